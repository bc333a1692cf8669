//! The virtio-net header (`struct virtio_net_hdr`, virtio 1.x section
//! 5.1.6) that Linux TUN/TAP devices (`IFF_VNET_HDR`) and packet sockets
//! (`PACKET_VNET_HDR`) put in front of every frame to carry checksum and
//! segmentation offload state.
//!
//! Ten bytes: flags, GSO type, header length, GSO size, checksum start and
//! checksum offset. Linux reads and writes the 16-bit fields in the
//! "legacy" virtio byte order, the host's, unless told otherwise
//! (`TUNSETVNETLE`, which nothing here sets), so they are native-endian.

use super::partial_checksum::{TransportLayout, ethernet_ipv4_offset};
use super::{FrameMeta, Medium, TransportChecksum};

/// Length of the header (`sizeof(struct virtio_net_hdr)`).
pub(crate) const VNET_HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is partial; complete it
/// over `[csum_start..]` and store it at `csum_start + csum_offset`.
const FLAG_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum has been verified.
const FLAG_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_NONE`.
const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`: the hook for TSO6, unused until the stack
/// sends IPv6.
#[allow(dead_code)]
const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN`: the segment carries CWR (RFC 3168 section
/// 6.1.2), which the kernel keeps on the first segment only.
const GSO_ECN: u8 = 0x80;

const PROTO_TCP: u8 = 6;
/// The TCP flags byte's CWR bit.
const TCP_CWR: u8 = 0x80;

/// A decoded virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

fn read_ne16(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([bytes[at], bytes[at + 1]])
}

impl VnetHeader {
    /// Reads the header at the start of `bytes`.
    pub(crate) fn parse(bytes: &[u8]) -> Option<VnetHeader> {
        let h = bytes.get(..VNET_HEADER_LEN)?;
        Some(VnetHeader {
            flags: h[0],
            gso_type: h[1],
            hdr_len: read_ne16(h, 2),
            gso_size: read_ne16(h, 4),
            csum_start: read_ne16(h, 6),
            csum_offset: read_ne16(h, 8),
        })
    }

    /// Writes the header into the first [`VNET_HEADER_LEN`] bytes of `out`.
    pub(crate) fn write(&self, out: &mut [u8]) {
        let Some(h) = out.get_mut(..VNET_HEADER_LEN) else {
            return;
        };
        h[0] = self.flags;
        h[1] = self.gso_type;
        h[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        h[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        h[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
    }

    /// What a received frame's header tells the stack.
    pub(crate) fn rx_meta(&self) -> FrameMeta {
        let checksum = if self.flags & FLAG_NEEDS_CSUM != 0 {
            TransportChecksum::Partial
        } else if self.flags & FLAG_DATA_VALID != 0 {
            TransportChecksum::Valid
        } else {
            TransportChecksum::Unknown
        };
        let segment_size = if self.gso_type == GSO_NONE {
            0
        } else {
            self.gso_size
        };
        FrameMeta::new(checksum, segment_size)
    }

    /// The header for sending `frame` (of `medium`) as the stack asked in
    /// `meta`, preparing the frame for it: where the checksum is left to
    /// the kernel, the field gets the pseudo-header sum Linux expects of a
    /// partial checksum (the stack leaves it zero). A TCP segment whose
    /// payload exceeds `meta.segment_size` becomes a GSO frame.
    ///
    /// `copy_all`: claim the whole frame as header, so that a packet socket
    /// copies it instead of referencing the ring's pages (see the raw
    /// socket's transmit ring).
    ///
    /// Anything that is not an IPv4 TCP/UDP packet, or is malformed, goes
    /// as it is with an empty header (and any partial checksum completed
    /// here, so nothing leaves with a wrong one).
    pub(crate) fn for_transmit(
        frame: &mut [u8],
        medium: Medium,
        meta: FrameMeta,
        copy_all: bool,
    ) -> VnetHeader {
        let plain = VnetHeader {
            hdr_len: if copy_all {
                u16::try_from(frame.len()).unwrap_or(u16::MAX)
            } else {
                0
            },
            ..VnetHeader::default()
        };
        let offload = meta.checksum == TransportChecksum::Partial || meta.segment_size > 0;
        if !offload {
            return plain;
        }
        let l3 = match medium {
            Medium::Ethernet => ethernet_ipv4_offset(frame),
            // TSO6 hook: an IPv6 packet (version 6) would be laid out here
            // and sent with GSO_TCPV6.
            Medium::Ip => (frame.first().map(|b| b >> 4) == Some(4)).then_some(0),
        };
        let layout = l3.and_then(|l3| Some((l3, TransportLayout::of(frame.get(l3..)?)?)));
        let Some((l3, layout)) = layout else {
            // Not ours to offload: leave the frame as the stack built it.
            return plain;
        };
        let ip = &mut frame[l3..];
        let l4 = layout.header_len;
        let pseudo = layout.pseudo_header_sum(ip);
        let at = l4 + layout.checksum_at;
        ip[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
        let csum_start = l3 + l4;
        let mut header = VnetHeader {
            flags: FLAG_NEEDS_CSUM,
            gso_type: GSO_NONE,
            hdr_len: plain.hdr_len,
            gso_size: 0,
            // Within a frame of at most 64 KiB (the IPv4 total length).
            csum_start: u16::try_from(csum_start).unwrap_or(u16::MAX),
            csum_offset: layout.checksum_at as u16,
        };
        if layout.protocol == PROTO_TCP && meta.segment_size > 0 {
            let tcp_header_len = ip
                .get(l4 + 12)
                .map_or(20, |&offset| usize::from(offset >> 4) * 4);
            let payload = layout.total_len.saturating_sub(l4 + tcp_header_len);
            if payload > usize::from(meta.segment_size) {
                header.gso_type = GSO_TCPV4;
                if ip.get(l4 + 13).is_some_and(|&flags| flags & TCP_CWR != 0) {
                    header.gso_type |= GSO_ECN;
                }
                header.gso_size = meta.segment_size;
                if !copy_all {
                    header.hdr_len = (csum_start + tcp_header_len) as u16;
                }
            }
        }
        header
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::checksum;
    use std::vec::Vec;

    /// An Ethernet + IPv4 + TCP frame (20-byte TCP header, `payload` bytes),
    /// TCP checksum zero as the stack leaves it for the device.
    fn tcp_frame(payload: usize, flags: u8) -> Vec<u8> {
        let total = 20 + 20 + payload;
        let mut f = std::vec![0u8; 14 + total];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let tcp = &mut ip[20..];
        tcp[12] = 0x50;
        tcp[13] = flags;
        for (i, b) in tcp[20..].iter_mut().enumerate() {
            *b = i as u8;
        }
        f
    }

    #[test]
    fn round_trip_is_native_endian() {
        let h = VnetHeader {
            flags: 1,
            gso_type: 1,
            hdr_len: 0x0102,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut bytes = [0u8; VNET_HEADER_LEN];
        h.write(&mut bytes);
        assert_eq!(&bytes[4..6], &1448u16.to_ne_bytes());
        assert_eq!(VnetHeader::parse(&bytes), Some(h));
        assert_eq!(VnetHeader::parse(&bytes[..9]), None);
    }

    #[test]
    fn rx_flags_map_to_meta() {
        let mut h = VnetHeader::default();
        assert_eq!(h.rx_meta(), FrameMeta::default());
        h.flags = FLAG_DATA_VALID;
        assert_eq!(h.rx_meta().checksum, TransportChecksum::Valid);
        h.flags = FLAG_NEEDS_CSUM | FLAG_DATA_VALID;
        h.gso_type = GSO_TCPV4;
        h.gso_size = 1448;
        assert_eq!(
            h.rx_meta(),
            FrameMeta::new(TransportChecksum::Partial, 1448)
        );
    }

    #[test]
    fn plain_frame_gets_an_empty_header() {
        let mut f = tcp_frame(100, 0x18);
        let before = f.clone();
        let h = VnetHeader::for_transmit(&mut f, Medium::Ethernet, FrameMeta::default(), false);
        assert_eq!(h, VnetHeader::default());
        assert_eq!(f, before);
        let h = VnetHeader::for_transmit(&mut f, Medium::Ethernet, FrameMeta::default(), true);
        assert_eq!(h.hdr_len as usize, f.len());
    }

    #[test]
    fn partial_checksum_holds_the_pseudo_header_sum() {
        let mut f = tcp_frame(100, 0x18);
        let meta = FrameMeta::new(TransportChecksum::Partial, 0);
        let h = VnetHeader::for_transmit(&mut f, Medium::Ethernet, meta, false);
        assert_eq!((h.flags, h.gso_type), (FLAG_NEEDS_CSUM, GSO_NONE));
        assert_eq!((h.csum_start, h.csum_offset), (34, 16));
        // Completing it the way a device does gives the full checksum.
        let field = u16::from_be_bytes([f[50], f[51]]);
        let segment = &f[34..];
        let sum = checksum::data(segment);
        assert_ne!(field, 0);
        let mut full = f.clone();
        full[50..52].copy_from_slice(&(!sum).to_be_bytes());
        let ip_src = crate::wire::IpAddress::Ipv4(crate::wire::Ipv4Address([192, 0, 2, 1]));
        let ip_dst = crate::wire::IpAddress::Ipv4(crate::wire::Ipv4Address([192, 0, 2, 2]));
        let verify = checksum::combine(&[
            checksum::pseudo_header(&ip_src, &ip_dst, crate::wire::IpProtocol::Tcp, 120),
            checksum::data(&full[34..]),
        ]);
        assert_eq!(verify, 0xffff);
    }

    #[test]
    fn large_tcp_segment_becomes_gso() {
        let mut f = tcp_frame(3 * 1448 + 10, 0x19 | TCP_CWR);
        let meta = FrameMeta::new(TransportChecksum::Partial, 1448);
        let h = VnetHeader::for_transmit(&mut f, Medium::Ethernet, meta, false);
        assert_eq!(h.gso_type, GSO_TCPV4 | GSO_ECN);
        assert_eq!((h.gso_size, h.hdr_len), (1448, 54));
        // On the IP medium the offsets start at the IP header.
        let mut ip = f[14..].to_vec();
        let h = VnetHeader::for_transmit(&mut ip, Medium::Ip, meta, false);
        assert_eq!((h.csum_start, h.hdr_len), (20, 40));
        // A payload within one segment is not GSO.
        let mut small = tcp_frame(1448, 0x10);
        let h = VnetHeader::for_transmit(&mut small, Medium::Ethernet, meta, false);
        assert_eq!((h.gso_type, h.gso_size), (GSO_NONE, 0));
        assert_eq!(h.flags, FLAG_NEEDS_CSUM);
    }

    #[test]
    fn malformed_frames_are_left_alone() {
        let meta = FrameMeta::new(TransportChecksum::Partial, 1448);
        for cut in [0, 13, 14, 20, 33, 40, 49] {
            let mut f = tcp_frame(10, 0x10);
            f.truncate(cut);
            let before = f.clone();
            let h = VnetHeader::for_transmit(&mut f, Medium::Ethernet, meta, false);
            assert_eq!(h, VnetHeader::default());
            assert_eq!(f, before);
        }
        let mut arp = tcp_frame(10, 0x10);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let h = VnetHeader::for_transmit(&mut arp, Medium::Ethernet, meta, false);
        assert_eq!(h, VnetHeader::default());
    }
}
