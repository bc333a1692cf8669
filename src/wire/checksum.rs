//! The internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Every function here returns the ones-complement *sum* of 16-bit
//! big-endian words, folded to 16 bits, as a host-order `u16`; a checksum
//! field holds its complement (`!sum`). A packet verifies when the sum over
//! it, checksum field included, is `0xffff`.
//!
//! The sum is computed on 64-bit native-endian words with end-around carry:
//! RFC 1071 section 2 (B) shows the ones-complement sum is independent of
//! byte order up to a final swap, and (C) that it can be computed in wider
//! words and folded. That makes [`data`] roughly eight times fewer additions
//! than a 16-bit loop, with no byte swapping inside the loop.

use super::ip::{IpAddress, IpProtocol};

/// Adds two 64-bit words in ones-complement arithmetic (end-around carry).
#[inline(always)]
fn add_with_carry(acc: u64, word: u64) -> u64 {
    let (sum, carry) = acc.overflowing_add(word);
    sum + u64::from(carry)
}

/// Folds a 64-bit ones-complement accumulator to 16 bits.
#[inline(always)]
fn fold64(acc: u64) -> u16 {
    // Each step adds the high half into the low half; two steps per halving
    // absorb the carry the first step may produce.
    let mut x = (acc >> 32) + (acc & 0xffff_ffff);
    x = (x >> 32) + (x & 0xffff_ffff);
    x = (x >> 16) + (x & 0xffff);
    x = (x >> 16) + (x & 0xffff);
    x as u16
}

/// Reads eight bytes as a native-endian word; `chunk` is exactly 8 bytes
/// long because it comes from `chunks_exact(8)`.
#[inline(always)]
fn word_at(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_ne_bytes(bytes)
}

/// The ones-complement sum of `bytes` taken as big-endian 16-bit words, an
/// odd final byte padded with a zero (RFC 1071 section 1), folded to 16 bits
/// and not complemented.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    let mut acc = 0u64;
    let mut rest = bytes;
    if rest.len() >= 32 {
        // Four independent accumulators over 32-byte blocks let the CPU
        // overlap the carry chains.
        let mut blocks = rest.chunks_exact(32);
        let (mut a0, mut a1, mut a2, mut a3) = (0u64, 0u64, 0u64, 0u64);
        for block in &mut blocks {
            a0 = add_with_carry(a0, word_at(&block[0..8]));
            a1 = add_with_carry(a1, word_at(&block[8..16]));
            a2 = add_with_carry(a2, word_at(&block[16..24]));
            a3 = add_with_carry(a3, word_at(&block[24..32]));
        }
        acc = add_with_carry(add_with_carry(a0, a1), add_with_carry(a2, a3));
        rest = blocks.remainder();
    }
    let mut words = rest.chunks_exact(8);
    for word in &mut words {
        acc = add_with_carry(acc, word_at(word));
    }

    // The last 0..7 bytes. Every piece starts at an even offset, and a
    // 16-bit word at any even offset of a native word adds the same modulo
    // 0xffff (2^16 = 1 there), so narrower native reads sum correctly. A
    // final odd byte is the high half of a zero-padded word (RFC 1071).
    let mut tail = words.remainder();
    if let [a, b, c, d, more @ ..] = tail {
        acc = add_with_carry(acc, u64::from(u32::from_ne_bytes([*a, *b, *c, *d])));
        tail = more;
    }
    if let [a, b, more @ ..] = tail {
        acc = add_with_carry(acc, u64::from(u16::from_ne_bytes([*a, *b])));
        tail = more;
    }
    if let [a] = tail {
        acc = add_with_carry(acc, u64::from(u16::from_ne_bytes([*a, 0])));
    }

    // A native little-endian sum is the byte-swapped big-endian sum
    // (RFC 1071 section 2 (B)).
    u16::from_be(fold64(acc))
}

/// Combines partial sums (each from [`data`], [`pseudo_header`], or a
/// 16-bit field) into one. Each part except the last must have covered an
/// even number of bytes, so that words line up as in one contiguous sum.
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc: u32 = 0;
    for &sum in sums {
        acc += u32::from(sum);
    }
    // At most 2^16 parts of 16 bits fit in 32 bits; fold twice for the carry.
    acc = (acc >> 16) + (acc & 0xffff);
    acc = (acc >> 16) + (acc & 0xffff);
    acc as u16
}

/// The ones-complement sum of the pseudo-header an upper-layer checksum
/// covers: for IPv4 (RFC 9293 section 3.1) source, destination, a zero
/// byte, the protocol and the 16-bit upper-layer length; for IPv6 (RFC 8200
/// section 8.1) the 128-bit addresses, the 32-bit length, three zero bytes
/// and the next header. Both are the same sum of 16-bit words.
///
/// `length` is the upper-layer header plus data; for IPv4 it must fit in
/// 16 bits. The two addresses are of the same version.
pub fn pseudo_header(src: &IpAddress, dst: &IpAddress, protocol: IpProtocol, length: u32) -> u16 {
    #[allow(irrefutable_let_patterns)] // without proto-ipv6
    if let (IpAddress::Ipv4(src), IpAddress::Ipv4(dst)) = (src, dst) {
        // The hot path: two 32-bit addresses as four 16-bit halves.
        let src = u32::from_be_bytes(src.0);
        let dst = u32::from_be_bytes(dst.0);
        let acc = u64::from(src >> 16)
            + u64::from(src & 0xffff)
            + u64::from(dst >> 16)
            + u64::from(dst & 0xffff)
            + u64::from(u8::from(protocol))
            + u64::from(length >> 16)
            + u64::from(length & 0xffff);
        return fold64(acc);
    }
    // Sum 16-bit words in a u64; no overflow is possible for 32 words.
    let words = |bytes: &[u8]| -> u64 {
        bytes
            .chunks_exact(2)
            .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
            .sum()
    };
    let acc = words(src.as_bytes())
        + words(dst.as_bytes())
        + u64::from(u8::from(protocol))
        + u64::from(length >> 16)
        + u64::from(length & 0xffff);
    fold64(acc)
}

/// The new checksum field after one 16-bit word of the covered data changes
/// from `old_field` to `new_field`, given the old checksum field
/// (RFC 1624 section 3, equation 3: `HC' = ~(~HC + ~m + m')`).
///
/// The result equals a full recomputation except in the degenerate case where
/// all covered data becomes zero, where ones-complement arithmetic has two
/// zeros (RFC 1624 section 3 discusses why equation 3 is the right one).
pub fn update(old_checksum: u16, old_field: u16, new_field: u16) -> u16 {
    !combine(&[!old_checksum, !old_field, new_field])
}

/// [`update`] for a 32-bit field (an address or a sequence number), which
/// is two 16-bit words of the covered data.
pub fn update_u32(old_checksum: u16, old_field: u32, new_field: u32) -> u16 {
    !combine(&[
        !old_checksum,
        !(old_field >> 16) as u16,
        !(old_field as u16),
        (new_field >> 16) as u16,
        new_field as u16,
    ])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::Ipv4Address;
    use std::vec::Vec;

    /// The byte-at-a-time reference: RFC 1071 section 4.1 in its plainest
    /// form.
    fn reference(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i + 1 < bytes.len() {
            sum += u32::from(bytes[i]) << 8 | u32::from(bytes[i + 1]);
            i += 2;
        }
        if i < bytes.len() {
            sum += u32::from(bytes[i]) << 8;
        }
        while sum >> 16 != 0 {
            sum = (sum >> 16) + (sum & 0xffff);
        }
        sum as u16
    }

    /// xorshift64*: deterministic pseudo-random bytes for the tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(reference(&bytes), 0xddf2);
        // Its checksum field would be the complement.
        assert_eq!(!data(&bytes), 0x220d);
    }

    #[test]
    fn known_ipv4_header() {
        // The widely reproduced worked example of an IPv4 header checksum
        // (172.16.10.99 -> 172.16.10.12): the field comes out as 0xb1e6, and
        // with it filled in the header sums to 0xffff.
        let header = [
            0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xac, 0x10,
            0x0a, 0x63, 0xac, 0x10, 0x0a, 0x0c,
        ];
        assert_eq!(!data(&header), 0xb1e6);
        let mut filled = header;
        filled[10] = 0xb1;
        filled[11] = 0xe6;
        assert_eq!(data(&filled), 0xffff);
    }

    #[test]
    fn edge_values() {
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0xff, 0xff]), 0xffff);
        assert_eq!(data(&[0xff; 64]), 0xffff);
        // 0xffff + 0x0001 wraps to 0x0001 with end-around carry.
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        // Many carries: 2^16 words of 0xffff still sum to 0xffff.
        assert_eq!(data(&[0xff; 131_072]), 0xffff);
    }

    #[test]
    fn every_length_matches_reference() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // One buffer; slices at each offset 0..8 exercise odd alignments.
        let buffer = rng.bytes(2000 + 8);
        for offset in 0..8 {
            for len in 0..2000 {
                let slice = &buffer[offset..offset + len];
                assert_eq!(data(slice), reference(slice), "offset {offset} len {len}");
            }
        }
        // All-ones data exercises the carries hardest.
        let ones = [0xffu8; 2000];
        for len in 0..2000 {
            assert_eq!(
                data(&ones[..len]),
                reference(&ones[..len]),
                "ones len {len}"
            );
        }
    }

    #[test]
    fn combine_equals_contiguous_sum() {
        let mut rng = Rng(12345);
        for _ in 0..200 {
            let len = (rng.next() % 1500) as usize;
            let bytes = rng.bytes(len);
            // Split at an even point so words line up.
            let split = ((rng.next() as usize) % (len + 1)) & !1;
            let (a, b) = bytes.split_at(split);
            assert_eq!(combine(&[data(a), data(b)]), data(&bytes));
        }
        assert_eq!(combine(&[]), 0);
        assert_eq!(combine(&[0xffff, 0xffff]), 0xffff);
        assert_eq!(combine(&[0x8000, 0x8000]), 0x0001);
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 1));
        let dst = IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 254));
        let bytes = [192, 0, 2, 1, 192, 0, 2, 254, 0, 6, 0x05, 0xdc];
        assert_eq!(
            pseudo_header(&src, &dst, IpProtocol::Tcp, 1500),
            reference(&bytes)
        );
        let bytes = [192, 0, 2, 1, 192, 0, 2, 254, 0, 17, 0xff, 0xff];
        assert_eq!(
            pseudo_header(&src, &dst, IpProtocol::Udp, 0xffff),
            reference(&bytes)
        );
    }

    #[cfg(feature = "proto-ipv6")]
    #[test]
    fn ipv6_pseudo_header_matches_bytes() {
        use crate::wire::Ipv6Address;
        let src: Ipv6Address = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Address = "fe80::2:ff:fe00:1".parse().unwrap();
        // RFC 8200 section 8.1: source, destination, 32-bit length, three
        // zero bytes, next header.
        let mut bytes = [0u8; 40];
        bytes[..16].copy_from_slice(&src.0);
        bytes[16..32].copy_from_slice(&dst.0);
        bytes[32..36].copy_from_slice(&70_000u32.to_be_bytes());
        bytes[39] = 58;
        assert_eq!(
            pseudo_header(&src.into(), &dst.into(), IpProtocol::Icmpv6, 70_000),
            reference(&bytes)
        );
    }

    #[test]
    fn rfc1624_update_equals_recompute() {
        let mut rng = Rng(777);
        for _ in 0..2000 {
            let len = 2 + 2 * (rng.next() % 700) as usize;
            let mut bytes = rng.bytes(len);
            // A non-zero constant word keeps the data away from the all-zero
            // case where +0 and -0 differ (see `update`).
            bytes[0] = 0x45;
            let checksum = !data(&bytes);
            let at = 2 + 2 * ((rng.next() as usize) % ((len - 2) / 2).max(1));
            if at + 2 > len {
                continue;
            }
            let old = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            let new = rng.next() as u16;
            bytes[at..at + 2].copy_from_slice(&new.to_be_bytes());
            assert_eq!(update(checksum, old, new), !data(&bytes));
        }
        // RFC 1624 section 4 example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285
        // gives HC' = 0x0000.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn rfc1624_update_u32_equals_recompute() {
        let mut rng = Rng(4242);
        for _ in 0..2000 {
            let len = 4 + 4 * (1 + (rng.next() % 300) as usize);
            let mut bytes = rng.bytes(len);
            bytes[0] = 0x45;
            let checksum = !data(&bytes);
            let at = 4 + 4 * ((rng.next() as usize) % ((len - 4) / 4));
            let old = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
            let new = rng.next() as u32;
            bytes[at..at + 4].copy_from_slice(&new.to_be_bytes());
            assert_eq!(update_u32(checksum, old, new), !data(&bytes));
        }
    }
}
