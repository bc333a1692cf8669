//! Initial sequence numbers, RFC 9293 section 3.4.1 / RFC 6528
//! (CONTRACT STUB: the storage helper implements the body).

use crate::storage::siphash::SipKey;
use crate::time::Instant;
use crate::wire::{IpEndpoint, SeqNumber};

/// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
/// is a 4-microsecond clock and F a keyed hash (SipHash-2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsnGenerator {
    key: SipKey,
}

impl IsnGenerator {
    /// A generator keyed by a 128-bit secret (from the interface's seed).
    pub fn new(secret: [u8; 16]) -> Self {
        let lo = u64::from_le_bytes([secret[0], secret[1], secret[2], secret[3], secret[4], secret[5], secret[6], secret[7]]);
        let hi = u64::from_le_bytes([secret[8], secret[9], secret[10], secret[11], secret[12], secret[13], secret[14], secret[15]]);
        IsnGenerator { key: SipKey([lo, hi]) }
    }
    /// The ISN for a connection from `local` to `remote` at `now`.
    pub fn isn(&self, now: Instant, local: IpEndpoint, remote: IpEndpoint) -> SeqNumber { let _ = (now, local, remote); todo!() }
}
