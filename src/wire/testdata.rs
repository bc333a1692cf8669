//! Test support: frames captured from Linux (tests/data, made by
//! tests/data/capture-wire.sh) and a seeded generator.

extern crate std;
use std::vec::Vec;

/// DHCP between a client and dnsmasq (12 frames).
pub(crate) const DHCP_PCAP: &[u8] = include_bytes!("../../tests/data/linux-dhcp.pcap");
/// DNS queries to dnsmasq and its answers (18 frames).
pub(crate) const DNS_PCAP: &[u8] = include_bytes!("../../tests/data/linux-dns.pcap");
/// IPv6: NDP, MLDv2, echoes, fragments and ICMPv6 errors (57 frames).
#[cfg(feature = "proto-ipv6")]
pub(crate) const IPV6_PCAP: &[u8] = include_bytes!("../../tests/data/linux-ipv6.pcap");

/// Frame `number` (1-based, as tshark counts) of a little-endian pcap file.
pub(crate) fn frame(pcap: &'static [u8], number: usize) -> &'static [u8] {
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut rest = &pcap[24..];
    let mut index = 1;
    loop {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        if index == number {
            return &rest[16..16 + caplen];
        }
        rest = &rest[16 + caplen..];
        index += 1;
    }
}

/// The IPv6 packet of frame `number` of [`IPV6_PCAP`] (after Ethernet).
#[cfg(feature = "proto-ipv6")]
pub(crate) fn ipv6_packet(number: usize) -> &'static [u8] {
    &frame(IPV6_PCAP, number)[14..]
}

/// The UDP payload of frame `number` of an IPv4 capture (Ethernet, a
/// 20-byte IPv4 header and UDP before it).
pub(crate) fn udp_payload(pcap: &'static [u8], number: usize) -> &'static [u8] {
    &frame(pcap, number)[14 + 20 + 8..]
}

/// xorshift64*: deterministic pseudo-random numbers for never-panic loops.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A damaged copy of `bytes`: a few random bytes changed, sometimes
    /// truncated or extended.
    pub(crate) fn mutate(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for _ in 0..1 + self.below(4) {
            if out.is_empty() {
                break;
            }
            let at = self.below(out.len());
            out[at] = self.next() as u8;
        }
        match self.below(6) {
            0 => out.truncate(self.below(bytes.len() + 1)),
            1 => {
                for _ in 0..self.below(16) {
                    out.push(self.next() as u8);
                }
            }
            _ => {}
        }
        out
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
