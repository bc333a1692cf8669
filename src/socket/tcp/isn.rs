//! Initial sequence numbers, RFC 9293 section 3.4.1 / RFC 6528.

use crate::storage::siphash::{SipKey, siphash24};
use crate::time::Instant;
use crate::wire::{IpEndpoint, SeqNumber};

/// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
/// is a 4-microsecond clock and F a keyed hash (SipHash-2-4).
///
/// The clock term makes a new incarnation of a 4-tuple start ahead of the
/// old one's sequence numbers (RFC 9293 section 3.4.1); the keyed hash gives
/// every 4-tuple its own unpredictable offset, so an off-path attacker
/// cannot guess the ISN from connections of its own (RFC 6528 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsnGenerator {
    key: SipKey,
}

/// Bytes of the hashed 4-tuple when both addresses are IPv6-sized: room for
/// the largest address family, so the buffer never needs to grow.
const TUPLE_BYTES_MAX: usize = 2 * (16 + 2);

impl IsnGenerator {
    /// A generator keyed by a 128-bit secret (from the interface's seed).
    pub fn new(secret: [u8; 16]) -> Self {
        IsnGenerator {
            key: SipKey::from_bytes(secret),
        }
    }

    /// The secret, for other keyed hashes derived from it (SYN cookies).
    pub(crate) fn key(&self) -> SipKey {
        self.key
    }

    /// The ISN for a connection from `local` to `remote` at `now`.
    ///
    /// M is `now` in 4-microsecond ticks, truncated to 32 bits (so it wraps
    /// about every 4.77 hours, as RFC 9293 section 3.4.1 describes); F is
    /// the low 32 bits of SipHash-2-4 over local address, local port,
    /// remote address and remote port (ports big-endian).
    pub fn isn(&self, now: Instant, local: IpEndpoint, remote: IpEndpoint) -> SeqNumber {
        // Truncation to 32 bits is the modular clock the RFC describes;
        // div_euclid keeps ticks steady across a negative epoch too.
        let clock = now.total_micros().div_euclid(4) as u32;
        SeqNumber(clock.wrapping_add(self.tuple_hash(local, remote)))
    }

    /// F of RFC 6528: the keyed hash of the 4-tuple, low 32 bits.
    fn tuple_hash(&self, local: IpEndpoint, remote: IpEndpoint) -> u32 {
        let mut buf = [0u8; TUPLE_BYTES_MAX];
        let mut len = 0;
        for part in [
            local.addr.as_bytes(),
            &local.port.to_be_bytes(),
            remote.addr.as_bytes(),
            &remote.port.to_be_bytes(),
        ] {
            // Every address is at most 16 bytes, so the four parts fit in
            // TUPLE_BYTES_MAX; `get_mut` only guards the arithmetic.
            if let Some(dst) = buf.get_mut(len..len + part.len()) {
                dst.copy_from_slice(part);
                len += part.len();
            }
        }
        siphash24(&self.key, &buf[..len]) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use crate::wire::IpAddress;

    const SECRET: [u8; 16] = [7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    fn local() -> IpEndpoint {
        IpEndpoint::new(IpAddress::v4(192, 168, 1, 1), 80)
    }

    fn remote() -> IpEndpoint {
        IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), 49152)
    }

    #[test]
    fn same_inputs_same_isn() {
        let generator = IsnGenerator::new(SECRET);
        let now = Instant::from_millis(1234);
        assert_eq!(
            generator.isn(now, local(), remote()),
            generator.isn(now, local(), remote())
        );
        assert_eq!(
            IsnGenerator::new(SECRET).isn(now, local(), remote()),
            generator.isn(now, local(), remote())
        );
    }

    #[test]
    fn hash_term_is_siphash24_of_the_tuple() {
        let generator = IsnGenerator::new(SECRET);
        let bytes = [192, 168, 1, 1, 0, 80, 10, 0, 0, 2, 0xc0, 0x00];
        let expected = siphash24(&SipKey::from_bytes(SECRET), &bytes) as u32;
        assert_eq!(
            generator.isn(Instant::ZERO, local(), remote()),
            SeqNumber(expected)
        );
        // 4 ms = 1000 ticks on top of the hash.
        assert_eq!(
            generator.isn(Instant::from_millis(4), local(), remote()),
            SeqNumber(expected.wrapping_add(1000))
        );
    }

    #[test]
    fn different_key_or_tuple_different_isn() {
        let generator = IsnGenerator::new(SECRET);
        let now = Instant::from_secs(5);
        let base = generator.isn(now, local(), remote());
        let mut other_secret = SECRET;
        other_secret[15] ^= 1;
        assert_ne!(
            IsnGenerator::new(other_secret).isn(now, local(), remote()),
            base
        );
        let mut other_port = remote();
        other_port.port += 1;
        assert_ne!(generator.isn(now, local(), other_port), base);
        let other_addr = IpEndpoint::new(IpAddress::v4(10, 0, 0, 3), remote().port);
        assert_ne!(generator.isn(now, local(), other_addr), base);
        // Direction matters: swapping ends is another connection.
        assert_ne!(generator.isn(now, remote(), local()), base);
    }

    #[test]
    fn clock_advances_one_per_four_microseconds() {
        let generator = IsnGenerator::new(SECRET);
        let t = Instant::from_micros(1_000_000);
        let base = generator.isn(t, local(), remote());
        assert_eq!(
            generator.isn(t + Duration::from_micros(3), local(), remote()),
            base
        );
        assert_eq!(
            generator.isn(t + Duration::from_micros(4), local(), remote()),
            base + 1
        );
        assert_eq!(
            generator.isn(t + Duration::from_micros(400), local(), remote()),
            base + 100
        );
    }

    #[test]
    fn clock_wraps_modulo_2_32() {
        let generator = IsnGenerator::new(SECRET);
        let at_zero = generator.isn(Instant::ZERO, local(), remote());
        // 2^32 ticks of 4 us later the clock term is back to zero...
        let wrap = Instant::from_micros(4 << 32);
        assert_eq!(generator.isn(wrap, local(), remote()), at_zero);
        // ...and one tick before that it is 2^32 - 1.
        let before = Instant::from_micros((4 << 32) - 4);
        assert_eq!(
            generator.isn(before, local(), remote()),
            at_zero.wrapping_add(u32::MAX)
        );
        // Negative instants keep the 4 us cadence.
        assert_eq!(
            generator.isn(Instant::from_micros(-4), local(), remote()),
            at_zero.wrapping_add(u32::MAX)
        );
    }
}
