//! Ephemeral port selection: RFC 6056 section 3.3.4, Algorithm 4
//! ("double-hash port selection").
//!
//! A keyed hash of the connection's addresses and remote port gives each
//! destination its own starting offset in the ephemeral range, so ports
//! seen by one peer tell nothing about those used with another, and a
//! second keyed hash picks one of a few counters that advance it, so
//! consecutive connections to one destination still take new ports (which
//! keeps clear of its TIME_WAIT records) without one global sequence.

use crate::storage::siphash::{SipKey, siphash13};
use crate::wire::{IpAddress, IpEndpoint};

/// The first ephemeral port (RFC 6335 section 6: 49152 to 65535).
pub(super) const EPHEMERAL_FIRST: u16 = 49152;

/// How many ephemeral ports there are.
const EPHEMERAL_COUNT: u32 = (u16::MAX - EPHEMERAL_FIRST) as u32 + 1;

/// Counters in the table (RFC 6056 calls its size TABLE_LENGTH; a few
/// suffice for a small host, and each costs two bytes).
const TABLE_LEN: usize = 16;

/// RFC 6056 Algorithm 4's state: the two hash keys and the counter table.
#[derive(Debug, Clone)]
pub(super) struct PortSelector {
    /// Key of F(), the per-destination offset.
    offset_key: SipKey,
    /// Key of G(), which counter a destination uses.
    index_key: SipKey,
    table: [u16; TABLE_LEN],
}

impl PortSelector {
    /// A selector with secret keys (derived from the interface's seed) and
    /// counters that start from random values too.
    pub(super) fn new(offset_key: SipKey, index_key: SipKey, table_seed: u64) -> PortSelector {
        let mut table = [0u16; TABLE_LEN];
        for (i, counter) in table.iter_mut().enumerate() {
            // Each counter takes 16 bits of the seed, rotated per index.
            *counter = (table_seed.rotate_left(16 * (i as u32 % 4)) >> (i / 4)) as u16;
        }
        PortSelector {
            offset_key,
            index_key,
            table,
        }
    }

    /// The first ephemeral port, in Algorithm 4's order for this local
    /// address and remote endpoint, for which `free` says yes; `None` when
    /// every one of them is taken.
    pub(super) fn select(
        &mut self,
        local: IpAddress,
        remote: IpEndpoint,
        mut free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let mut input = [0u8; 16 + 16 + 2];
        let input = connection_bytes(&mut input, local, remote);
        let offset = siphash13(&self.offset_key, input);
        // The remainder is below TABLE_LEN.
        let index = (siphash13(&self.index_key, input) % TABLE_LEN as u64) as usize;
        for _ in 0..EPHEMERAL_COUNT {
            let step = u64::from(self.table[index]);
            self.table[index] = self.table[index].wrapping_add(1);
            // The remainder is below EPHEMERAL_COUNT, so the sum fits a u16.
            let port =
                EPHEMERAL_FIRST + (offset.wrapping_add(step) % u64::from(EPHEMERAL_COUNT)) as u16;
            if free(port) {
                return Some(port);
            }
        }
        None
    }
}

/// The hash input: local address, remote address, remote port.
fn connection_bytes(buf: &mut [u8; 34], local: IpAddress, remote: IpEndpoint) -> &[u8] {
    let mut len = 0;
    for part in [local.as_bytes(), remote.addr.as_bytes()] {
        buf[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    buf[len..len + 2].copy_from_slice(&remote.port.to_be_bytes());
    &buf[..len + 2]
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::collections::BTreeSet;
    use std::vec::Vec;

    use super::*;

    fn selector(seed: u64) -> PortSelector {
        PortSelector::new(SipKey([seed, 1]), SipKey([seed, 2]), seed)
    }

    fn remote(last: u8, port: u16) -> IpEndpoint {
        IpEndpoint::new(IpAddress::v4(198, 51, 100, last), port)
    }

    const LOCAL: IpAddress = IpAddress::v4(192, 0, 2, 1);

    #[test]
    fn consecutive_connections_to_one_destination_take_consecutive_ports() {
        let mut ports = selector(7);
        let first = ports.select(LOCAL, remote(1, 80), |_| true).unwrap();
        let second = ports.select(LOCAL, remote(1, 80), |_| true).unwrap();
        let expected = if first == u16::MAX {
            EPHEMERAL_FIRST
        } else {
            first + 1
        };
        assert_eq!(second, expected);
        assert!(first >= EPHEMERAL_FIRST);
    }

    #[test]
    fn destinations_start_at_unrelated_offsets() {
        // Eight destinations, one connection each: their ports are not a
        // run of consecutive numbers (as one global counter would give).
        let mut ports = selector(11);
        let chosen: Vec<u16> = (1..=8)
            .map(|n| ports.select(LOCAL, remote(n, 443), |_| true).unwrap())
            .collect();
        let consecutive = chosen.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(consecutive < 7, "{chosen:?}");
        // Another key gives other ports for the same destinations.
        let mut other = selector(12);
        let other_chosen: Vec<u16> = (1..=8)
            .map(|n| other.select(LOCAL, remote(n, 443), |_| true).unwrap())
            .collect();
        assert_ne!(chosen, other_chosen);
    }

    #[test]
    fn taken_ports_are_skipped_and_a_full_range_is_none() {
        let mut ports = selector(3);
        let mut probe = ports.clone();
        let first = probe.select(LOCAL, remote(9, 22), |_| true).unwrap();
        // With the first candidate taken, the next one in order is chosen.
        let chosen = ports.select(LOCAL, remote(9, 22), |p| p != first).unwrap();
        assert_ne!(chosen, first);
        // Every port is tried exactly once before giving up.
        let mut tried = BTreeSet::new();
        let none = ports.select(LOCAL, remote(9, 22), |p| {
            assert!(tried.insert(p), "port {p} tried twice");
            false
        });
        assert_eq!(none, None);
        assert_eq!(tried.len(), EPHEMERAL_COUNT as usize);
    }
}
