//! SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012),
//! the keyed hash behind ISNs (RFC 6528) and the demultiplexing table, as
//! the `siphasher` crate computes it; this module fixes the key's byte order
//! and which variant each use gets.
//!
//! SipHash-2-4 is the paper's recommended PRF (for ISNs, where the output
//! must be unpredictable); SipHash-1-3 trades margin for speed and is enough
//! to keep hash-table keys out of an attacker's reach. The tests below pin
//! the reference vectors, so a change of crate or of our use of it (key
//! order, one-shot hashing of the whole message) cannot go unnoticed.

/// A 128-bit SipHash key: `k0` and `k1`, each read from 8 key bytes in
/// little-endian order, as the paper does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SipKey(pub [u64; 2]);

impl SipKey {
    /// The key whose 16 bytes are `bytes` (k0 = bytes 0..8, k1 = bytes 8..16,
    /// little-endian), the paper's byte order.
    pub const fn from_bytes(bytes: [u8; 16]) -> SipKey {
        let k0 = u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]);
        let k1 = u64::from_le_bytes([
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15],
        ]);
        SipKey([k0, k1])
    }
}

/// SipHash-2-4 of `data` under `key`.
pub fn siphash24(key: &SipKey, data: &[u8]) -> u64 {
    let [k0, k1] = key.0;
    siphasher::sip::SipHasher24::new_with_keys(k0, k1).hash(data)
}

/// SipHash-1-3 of `data` under `key`: faster, for hash-table keys.
pub fn siphash13(key: &SipKey, data: &[u8]) -> u64 {
    let [k0, k1] = key.0;
    siphasher::sip::SipHasher13::new_with_keys(k0, k1).hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's key: bytes 00 01 .. 0f.
    const PAPER_KEY: SipKey = SipKey::from_bytes([
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ]);

    /// SipHash-2-4 outputs of the reference implementation's test vectors
    /// (paper appendix / `vectors.h`), key 00..0f, message 00..(n-1) for
    /// n = 0..63, read as little-endian u64.
    const SIPHASH24_VECTORS: [u64; 64] = [
        0x726fdb47dd0e0e31,
        0x74f839c593dc67fd,
        0x0d6c8009d9a94f5a,
        0x85676696d7fb7e2d,
        0xcf2794e0277187b7,
        0x18765564cd99a68d,
        0xcbc9466e58fee3ce,
        0xab0200f58b01d137,
        0x93f5f5799a932462,
        0x9e0082df0ba9e4b0,
        0x7a5dbbc594ddb9f3,
        0xf4b32f46226bada7,
        0x751e8fbc860ee5fb,
        0x14ea5627c0843d90,
        0xf723ca908e7af2ee,
        0xa129ca6149be45e5,
        0x3f2acc7f57c29bdb,
        0x699ae9f52cbe4794,
        0x4bc1b3f0968dd39c,
        0xbb6dc91da77961bd,
        0xbed65cf21aa2ee98,
        0xd0f2cbb02e3b67c7,
        0x93536795e3a33e88,
        0xa80c038ccd5ccec8,
        0xb8ad50c6f649af94,
        0xbce192de8a85b8ea,
        0x17d835b85bbb15f3,
        0x2f2e6163076bcfad,
        0xde4daaaca71dc9a5,
        0xa6a2506687956571,
        0xad87a3535c49ef28,
        0x32d892fad841c342,
        0x7127512f72f27cce,
        0xa7f32346f95978e3,
        0x12e0b01abb051238,
        0x15e034d40fa197ae,
        0x314dffbe0815a3b4,
        0x027990f029623981,
        0xcadcd4e59ef40c4d,
        0x9abfd8766a33735c,
        0x0e3ea96b5304a7d0,
        0xad0c42d6fc585992,
        0x187306c89bc215a9,
        0xd4a60abcf3792b95,
        0xf935451de4f21df2,
        0xa9538f0419755787,
        0xdb9acddff56ca510,
        0xd06c98cd5c0975eb,
        0xe612a3cb9ecba951,
        0xc766e62cfcadaf96,
        0xee64435a9752fe72,
        0xa192d576b245165a,
        0x0a8787bf8ecb74b2,
        0x81b3e73d20b49b6f,
        0x7fa8220ba3b2ecea,
        0x245731c13ca42499,
        0xb78dbfaf3a8d83bd,
        0xea1ad565322a1a0b,
        0x60e61c23a3795013,
        0x6606d7e446282b93,
        0x6ca4ecb15c5f91e1,
        0x9f626da15c9625f3,
        0xe51b38608ef25f57,
        0x958a324ceb064572,
    ];

    fn message(len: usize) -> [u8; 64] {
        let mut msg = [0u8; 64];
        for (i, byte) in msg.iter_mut().enumerate().take(len) {
            *byte = i as u8;
        }
        msg
    }

    #[test]
    fn siphash24_reference_vectors() {
        for (len, expected) in SIPHASH24_VECTORS.iter().enumerate() {
            let msg = message(len);
            assert_eq!(
                siphash24(&PAPER_KEY, &msg[..len]),
                *expected,
                "length {len}"
            );
        }
    }

    #[test]
    fn key_from_bytes_is_little_endian() {
        assert_eq!(PAPER_KEY, SipKey([0x0706050403020100, 0x0f0e0d0c0b0a0908]));
    }

    /// SipHash-1-3 with the all-zero key over messages 00..(n-1), as
    /// computed by the reference implementation (published in OCaml's
    /// runtime tests; the empty-message value is also what Rust's
    /// `DefaultHasher`, SipHash-1-3 with zero keys, gives for no input).
    #[test]
    fn siphash13_published_vectors() {
        let zero = SipKey([0, 0]);
        let vectors: [(usize, u64); 10] = [
            (0, 0xd1fba762150c532c),
            (1, 0x68a914128e01e473),
            (2, 0x010bac45c41e3669),
            (7, 0x2f098ab0c751325a),
            (8, 0xead411e67ebe2eea),
            (9, 0x75927f9d95124362),
            (15, 0xf30eb725bb91c9ea),
            (16, 0x8972188433a5c5b7),
            (36, 0xac77921fcc642bd3),
            (63, 0x385d3e39e5f37359),
        ];
        for (len, expected) in vectors {
            let msg = message(len);
            assert_eq!(siphash13(&zero, &msg[..len]), expected, "length {len}");
        }
    }

    #[test]
    fn variants_and_keys_differ() {
        let msg = message(12);
        assert_ne!(
            siphash13(&PAPER_KEY, &msg[..12]),
            siphash24(&PAPER_KEY, &msg[..12])
        );
        assert_ne!(
            siphash24(&PAPER_KEY, &msg[..12]),
            siphash24(
                &SipKey([0x0706050403020100, 0x0f0e0d0c0b0a0909]),
                &msg[..12]
            )
        );
    }
}
