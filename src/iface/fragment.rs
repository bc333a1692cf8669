//! IPv4 fragmentation on output (RFC 791 sections 2.3 and 3.2): a datagram
//! larger than the MTU, without DF, goes out as fragments whose payloads
//! are multiples of 8 bytes but the last, each with its offset in 8-byte
//! units, MF on all but the last, and its own header checksum.
//!
//! The datagram's payload is given in two pieces, `head` (a transport
//! header, its checksum already computed over the whole datagram) and
//! `body`, so a caller never has to copy them together first.

use core::fmt;

use crate::wire::{ChecksumCapabilities, Ipv4Packet, Ipv4Repr};

/// The IPv4 header length of every fragment (no options).
const HEADER_LEN: usize = 20;

/// Why a datagram cannot be sent as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FragmentError {
    /// Larger than the MTU with DF set (RFC 1191: the sender must
    /// send smaller datagrams).
    DontFragment,
    /// The MTU leaves no room for 8 bytes of payload after the header.
    MtuTooSmall,
    /// The header's `payload_len` is not `head.len() + body.len()`, or
    /// above 65,515 bytes (a 16-bit total length).
    BadLength,
}

impl fmt::Display for FragmentError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            FragmentError::DontFragment => "datagram larger than the MTU with DF set",
            FragmentError::MtuTooSmall => "MTU too small to fragment into",
            FragmentError::BadLength => "payload length does not match the header",
        })
    }
}

impl core::error::Error for FragmentError {}

/// Cuts one IPv4 datagram into the packets that carry it: one packet when
/// it fits the MTU (flags as the header says), else fragments.
#[derive(Debug, Clone)]
pub struct Ipv4Fragmenter<'p> {
    header: Ipv4Repr,
    ident: u16,
    head: &'p [u8],
    body: &'p [u8],
    /// The payload bytes per packet (a multiple of 8 when fragmenting).
    step: usize,
    /// The offset of the next packet's payload.
    offset: usize,
    fragmenting: bool,
    done: bool,
}

impl<'p> Ipv4Fragmenter<'p> {
    /// The packets for `header` (identification `ident`) with payload
    /// `head` then `body`, each at most `mtu` bytes.
    pub fn new(
        header: Ipv4Repr,
        ident: u16,
        head: &'p [u8],
        body: &'p [u8],
        mtu: usize,
    ) -> Result<Ipv4Fragmenter<'p>, FragmentError> {
        let total = head.len() + body.len();
        if header.payload_len != total || total > 65535 - HEADER_LEN {
            return Err(FragmentError::BadLength);
        }
        let fragmenting = HEADER_LEN + total > mtu;
        let step = if fragmenting {
            if header.dont_frag {
                return Err(FragmentError::DontFragment);
            }
            let step = mtu.saturating_sub(HEADER_LEN) & !7;
            if step == 0 {
                return Err(FragmentError::MtuTooSmall);
            }
            step
        } else {
            total
        };
        Ok(Ipv4Fragmenter {
            header,
            ident,
            head,
            body,
            step,
            offset: 0,
            fragmenting,
            done: false,
        })
    }

    /// How many packets the datagram takes.
    pub fn count(&self) -> usize {
        if self.fragmenting {
            self.header.payload_len.div_ceil(self.step)
        } else {
            1
        }
    }

    /// The IP length of the next packet, `None` when all are out.
    pub fn next_len(&self) -> Option<usize> {
        if self.done {
            return None;
        }
        let left = self.header.payload_len - self.offset;
        Some(HEADER_LEN + left.min(self.step))
    }

    /// Writes the next packet at the start of `buf` (at least
    /// [`next_len`](Self::next_len) bytes) and returns its length; `None`
    /// when all are out or `buf` is too short. The header checksum is
    /// filled when `caps.ipv4` says software transmits it.
    pub fn emit_next(&mut self, buf: &mut [u8], caps: &ChecksumCapabilities) -> Option<usize> {
        let len = self.next_len()?;
        let buf = buf.get_mut(..len)?;
        let payload_len = len - HEADER_LEN;
        let mut header = self.header;
        header.payload_len = payload_len;
        if self.fragmenting {
            header.dont_frag = false;
        }
        let mut no_checksum = *caps;
        no_checksum.ipv4 = crate::wire::Checksum::None;
        let mut packet = Ipv4Packet::new_unchecked(&mut *buf);
        header.emit(&mut packet, &no_checksum);
        packet.set_ident(self.ident);
        let end = self.offset + payload_len;
        if self.fragmenting {
            // Offsets below 65,515 fit the 13-bit field in 8-byte units.
            packet.set_frag_offset(self.offset as u16);
            packet.set_more_frags(end < self.header.payload_len);
        }
        if caps.ipv4.tx() {
            packet.fill_checksum();
        }
        copy_range(self.head, self.body, self.offset, packet.payload_mut());
        self.offset = end;
        self.done = end >= self.header.payload_len;
        Some(len)
    }
}

/// Copies bytes `offset..offset + out.len()` of `head` followed by `body`
/// into `out`.
fn copy_range(head: &[u8], body: &[u8], offset: usize, out: &mut [u8]) {
    let mut written = 0;
    if offset < head.len() {
        let from_head = &head[offset..head.len().min(offset + out.len())];
        out[..from_head.len()].copy_from_slice(from_head);
        written = from_head.len();
    }
    let body_offset = (offset + written).saturating_sub(head.len());
    let rest = out.len() - written;
    if rest > 0 {
        if let Some(from_body) = body.get(body_offset..body_offset + rest) {
            out[written..].copy_from_slice(from_body);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::iface::reassembly::{
        FragmentOutcome, Reassembler, ReassemblyConfig, ReassemblySlot,
    };
    use crate::time::Instant;
    use crate::wire::{IpEcn, IpProtocol, Ipv4Address, checksum};

    const SRC: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
    const DST: Ipv4Address = Ipv4Address::new(192, 0, 2, 9);

    fn header(payload_len: usize, dont_frag: bool) -> Ipv4Repr {
        Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: IpProtocol::Udp,
            payload_len,
            hop_limit: 64,
            dont_frag,
            ecn: IpEcn::NotEct,
        }
    }

    fn all(mut f: Ipv4Fragmenter<'_>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(len) = f.next_len() {
            let mut buf = vec![0u8; len + 3];
            assert_eq!(
                f.emit_next(&mut buf, &ChecksumCapabilities::default()),
                Some(len)
            );
            buf.truncate(len);
            out.push(buf);
        }
        assert_eq!(
            f.emit_next(&mut [0u8; 64], &ChecksumCapabilities::default()),
            None
        );
        out
    }

    /// The header a fragment must have, byte by byte (RFC 791 section 3.1).
    fn expected_header(total_len: u16, ident: u16, flags_offset: u16) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        h[8] = 64;
        h[9] = 17;
        h[12..16].copy_from_slice(&SRC.0);
        h[16..20].copy_from_slice(&DST.0);
        let sum = !checksum::data(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h
    }

    #[test]
    fn fragments_have_exact_headers_offsets_and_payloads() {
        let head: Vec<u8> = (0..8).map(|i| 0xa0 + i).collect();
        let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let whole: Vec<u8> = head.iter().chain(body.iter()).copied().collect();
        let f = Ipv4Fragmenter::new(header(3008, false), 0x1234, &head, &body, 1500).unwrap();
        assert_eq!(f.count(), 3);
        let packets = all(f);
        let expected = [
            // 1480 bytes at 0, MF.
            (1500u16, 0x2000u16, 0..1480),
            // 1480 bytes at 1480 = 185 units, MF.
            (1500, 0x2000 | 185, 1480..2960),
            // The last 48 bytes at 2960 = 370 units, no MF.
            (68, 370, 2960..3008),
        ];
        assert_eq!(packets.len(), expected.len());
        for (packet, (len, flags, range)) in packets.iter().zip(expected) {
            assert_eq!(packet.len(), usize::from(len));
            assert_eq!(packet[..20], expected_header(len, 0x1234, flags));
            assert_eq!(packet[20..], whole[range]);
        }
    }

    #[test]
    fn odd_mtus_cut_at_multiples_of_eight() {
        let body = vec![7u8; 100];
        // 20 + 45 = 65: the payload per fragment rounds down to 40.
        let packets = all(Ipv4Fragmenter::new(header(100, false), 1, &[], &body, 65).unwrap());
        let lens: Vec<usize> = packets.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![60, 60, 40]);
        let offsets: Vec<u16> = packets
            .iter()
            .map(|p| Ipv4Packet::new_checked(&p[..]).unwrap().frag_offset())
            .collect();
        assert_eq!(offsets, vec![0, 40, 80]);
    }

    #[test]
    fn a_datagram_that_fits_is_one_packet_with_its_own_flags() {
        let body = vec![1u8; 1480];
        let packets = all(Ipv4Fragmenter::new(header(1480, true), 9, &[], &body, 1500).unwrap());
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0][..20], expected_header(1500, 9, 0x4000));
        let empty = all(Ipv4Fragmenter::new(header(0, false), 9, &[], &[], 1500).unwrap());
        assert_eq!(empty, vec![expected_header(20, 9, 0).to_vec()]);
    }

    #[test]
    fn refusals() {
        let body = vec![0u8; 1481];
        assert_eq!(
            Ipv4Fragmenter::new(header(1481, true), 0, &[], &body, 1500).err(),
            Some(FragmentError::DontFragment)
        );
        assert_eq!(
            Ipv4Fragmenter::new(header(1481, false), 0, &[], &body, 27).err(),
            Some(FragmentError::MtuTooSmall)
        );
        assert_eq!(
            Ipv4Fragmenter::new(header(1480, false), 0, &[], &body, 1500).err(),
            Some(FragmentError::BadLength)
        );
        let huge = vec![0u8; 65516];
        assert_eq!(
            Ipv4Fragmenter::new(header(65516, false), 0, &[], &huge, 1500).err(),
            Some(FragmentError::BadLength)
        );
        let mut f = Ipv4Fragmenter::new(header(1481, false), 0, &[], &body, 1500).unwrap();
        // A buffer too short is refused and nothing moves on.
        assert_eq!(
            f.emit_next(&mut [0u8; 100], &ChecksumCapabilities::default()),
            None
        );
        assert_eq!(f.next_len(), Some(1500));
    }

    #[test]
    fn the_largest_datagram_round_trips_through_reassembly() {
        let head: Vec<u8> = (0..8).collect();
        let body: Vec<u8> = (0..65507u32).map(|i| (i * 13 % 256) as u8).collect();
        let whole: Vec<u8> = head.iter().chain(body.iter()).copied().collect();
        let mut r = Reassembler::new(
            vec![ReassemblySlot::EMPTY; 1].into(),
            vec![0u8; 65515].into(),
            ReassemblyConfig::default(),
        );
        for mtu in [1500, 576, 9000] {
            let packets =
                all(Ipv4Fragmenter::new(header(65515, false), 77, &head, &body, mtu).unwrap());
            assert_eq!(packets.len(), 65515usize.div_ceil((mtu - 20) & !7));
            let mut outcome = FragmentOutcome::Stored;
            // Reversed, so the last fragment sizes the region at once.
            for packet in packets.iter().rev() {
                let packet = Ipv4Packet::new_checked(&packet[..]).unwrap();
                assert!(packet.verify_checksum());
                assert!(packet.total_len() as usize <= mtu);
                outcome = r.add(Instant::ZERO, &packet);
            }
            let FragmentOutcome::Complete(index) = outcome else {
                panic!("{outcome:?}")
            };
            let (repr, payload) = r.datagram(index).unwrap();
            assert_eq!(repr.payload_len, 65515);
            assert_eq!(payload, &whole[..]);
            r.release(index);
        }
    }
}
