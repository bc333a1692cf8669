//! The ARP neighbor cache (RFC 826): IP address to Ethernet address, with
//! expiry, and rate limiting of the requests sent to resolve an address
//! (RFC 1122 section 2.3.2.1: at most one request per second per address).
//!
//! The cache is a small fixed array on caller-provided storage
//! ([`ManagedSlice`]); lookups scan it, which for the handful of on-link
//! neighbors a host talks to costs less than hashing. When it is full, a new
//! address takes the place of the entry that stops being useful soonest:
//! an empty or dead entry first, otherwise the one expiring soonest.

use managed::ManagedSlice;

use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, IpAddress};

/// One entry of a [`NeighborCache`]'s storage. The caller allocates e.g.
/// `vec![Neighbor::default(); 8]` or a static array; the default is empty.
///
/// An entry may hold a resolved hardware address (valid until
/// `expires_at`), the time a request for its address was last sent, or both
/// (a request sent to refresh an entry that has expired).
#[derive(Debug, Clone, Default)]
pub struct Neighbor {
    ip: Option<IpAddress>,
    mac: Option<EthernetAddress>,
    expires_at: Instant,
    requested_at: Option<Instant>,
}

impl Neighbor {
    /// The instant after which this entry serves no purpose: neither a valid
    /// mapping nor a rate-limiting record. Empty entries are useless now.
    fn useful_until(&self) -> Instant {
        if self.ip.is_none() {
            return Instant::from_micros(i64::MIN);
        }
        let mapping = self.mac.map(|_| self.expires_at);
        let request = self
            .requested_at
            .map(|at| at + NeighborCache::REQUEST_INTERVAL);
        match (mapping, request) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => Instant::from_micros(i64::MIN),
        }
    }
}

/// The answer to a [`NeighborCache::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborAnswer {
    /// The address resolves to this hardware address.
    Found(EthernetAddress),
    /// The address is unknown (or its entry expired) and a request for it may
    /// be sent now.
    NotFound,
    /// The address is unknown and a request for it was sent less than
    /// [`NeighborCache::REQUEST_INTERVAL`] ago: wait for the reply.
    RateLimited,
}

/// The neighbor cache: a fixed number of IP-to-Ethernet mappings with
/// expiry, and per-address request rate limiting.
#[derive(Debug)]
pub struct NeighborCache<'a> {
    entries: ManagedSlice<'a, Neighbor>,
}

impl<'a> NeighborCache<'a> {
    /// How long a mapping stays valid after it is learned or refreshed.
    pub const ENTRY_LIFETIME: Duration = Duration::from_secs(60);
    /// The minimum time between two requests for the same address
    /// (RFC 1122 section 2.3.2.1).
    pub const REQUEST_INTERVAL: Duration = Duration::from_secs(1);

    /// A cache on `storage`, one entry per element; any previous contents of
    /// the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, Neighbor>>>(storage: S) -> Self {
        let mut cache = NeighborCache {
            entries: storage.into(),
        };
        cache.flush();
        cache
    }

    /// The number of entries the cache can hold.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Records that `ip` is at `mac`, learned at `now`: inserts or refreshes
    /// the entry so it expires at `now + ENTRY_LIFETIME`, and ends any rate
    /// limiting for it (the reply has come). Mappings to a non-unicast
    /// hardware address, or for a non-unicast IP address, are ignored: a peer
    /// must not be able to make us send unicast traffic to a group address.
    pub fn fill(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant) {
        if !mac.is_unicast() || !ip.is_unicast() {
            net_debug!("neighbor: ignoring mapping {} -> {:?}", ip, mac);
            return;
        }
        let Some(index) = self.index_for(ip, now) else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(index) {
            *entry = Neighbor {
                ip: Some(ip),
                mac: Some(mac),
                expires_at: now + Self::ENTRY_LIFETIME,
                requested_at: None,
            };
        }
    }

    /// What is known about `ip` at `now`. A mapping is valid while
    /// `now < expires_at`; a request blocks another for the same address
    /// while `now < sent + REQUEST_INTERVAL`.
    pub fn lookup(&self, ip: IpAddress, now: Instant) -> NeighborAnswer {
        let Some(entry) = self.find(ip) else {
            return NeighborAnswer::NotFound;
        };
        if let Some(mac) = entry.mac {
            if now < entry.expires_at {
                return NeighborAnswer::Found(mac);
            }
        }
        match entry.requested_at {
            // A request "sent" after `now` (a caller's clock running
            // backwards) also blocks, rather than allowing a burst.
            Some(sent) if now < sent + Self::REQUEST_INTERVAL => NeighborAnswer::RateLimited,
            _ => NeighborAnswer::NotFound,
        }
    }

    /// When a request for `ip` may next be sent, if it is rate limited at
    /// `now`: lets the interface say when to poll again.
    pub fn request_allowed_at(&self, ip: IpAddress, now: Instant) -> Option<Instant> {
        let entry = self.find(ip)?;
        if entry.mac.is_some() && now < entry.expires_at {
            return None;
        }
        let allowed = entry.requested_at? + Self::REQUEST_INTERVAL;
        (now < allowed).then_some(allowed)
    }

    /// Records that a request for `ip` was sent at `now`, so lookups answer
    /// [`NeighborAnswer::RateLimited`] for the next `REQUEST_INTERVAL`. An
    /// existing mapping for `ip` is kept (it may still be valid).
    pub fn note_request_sent(&mut self, ip: IpAddress, now: Instant) {
        let Some(index) = self.index_for(ip, now) else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(index) {
            if entry.ip != Some(ip) {
                *entry = Neighbor {
                    ip: Some(ip),
                    ..Neighbor::default()
                };
            }
            entry.requested_at = Some(now);
        }
    }

    /// Forgets every entry.
    pub fn flush(&mut self) {
        for entry in self.entries.iter_mut() {
            *entry = Neighbor::default();
        }
    }

    /// The entry for `ip`, if any.
    fn find(&self, ip: IpAddress) -> Option<&Neighbor> {
        self.entries.iter().find(|entry| entry.ip == Some(ip))
    }

    /// The index of the entry for `ip`, or else of the entry to replace:
    /// the one useful for the shortest time (empty and dead entries first).
    /// `None` only when the cache has no storage.
    fn index_for(&self, ip: IpAddress, now: Instant) -> Option<usize> {
        if let Some(index) = self.entries.iter().position(|e| e.ip == Some(ip)) {
            return Some(index);
        }
        let victim = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, entry)| entry.useful_until())
            .map(|(index, _)| index);
        if let Some(entry) = victim.and_then(|index| self.entries.get(index)) {
            if let Some(old) = entry.ip.filter(|_| entry.useful_until() > now) {
                net_debug!("neighbor: cache full, evicting {} for {}", old, ip);
            }
        }
        victim
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec;

    const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
    const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);

    fn ip(last: u8) -> IpAddress {
        IpAddress::v4(10, 0, 0, last)
    }

    fn cache(n: usize) -> NeighborCache<'static> {
        // Leaked borrowed storage: the tests run with and without `alloc`.
        NeighborCache::new(vec![Neighbor::default(); n].leak())
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_storage() {
        let mut c = NeighborCache::new(vec![Neighbor::default(); 1]);
        c.fill(ip(1), MAC_A, Instant::ZERO);
        assert_eq!(c.lookup(ip(1), Instant::ZERO), NeighborAnswer::Found(MAC_A));
    }

    #[test]
    fn constants() {
        assert_eq!(NeighborCache::ENTRY_LIFETIME, Duration::from_secs(60));
        assert_eq!(NeighborCache::REQUEST_INTERVAL, Duration::from_secs(1));
    }

    #[test]
    fn expires_exactly_after_lifetime() {
        let mut c = cache(4);
        let t0 = Instant::from_secs(100);
        assert_eq!(c.lookup(ip(1), t0), NeighborAnswer::NotFound);
        c.fill(ip(1), MAC_A, t0);
        assert_eq!(c.lookup(ip(1), t0), NeighborAnswer::Found(MAC_A));
        assert_eq!(
            c.lookup(ip(1), t0 + Duration::from_micros(59_999_999)),
            NeighborAnswer::Found(MAC_A)
        );
        assert_eq!(
            c.lookup(ip(1), t0 + Duration::from_secs(60)),
            NeighborAnswer::NotFound
        );
        assert_eq!(c.lookup(ip(2), t0), NeighborAnswer::NotFound);
    }

    #[test]
    fn refresh_extends_and_replaces() {
        let mut c = cache(4);
        c.fill(ip(1), MAC_A, Instant::from_secs(0));
        c.fill(ip(1), MAC_B, Instant::from_secs(30));
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(60)),
            NeighborAnswer::Found(MAC_B)
        );
        assert_eq!(
            c.lookup(ip(1), Instant::from_micros(89_999_999)),
            NeighborAnswer::Found(MAC_B)
        );
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(90)),
            NeighborAnswer::NotFound
        );
        // Refreshing after expiry brings it back.
        c.fill(ip(1), MAC_A, Instant::from_secs(95));
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(96)),
            NeighborAnswer::Found(MAC_A)
        );
    }

    #[test]
    fn rate_limit_window_is_exact() {
        let mut c = cache(4);
        let sent = Instant::from_millis(5_000);
        c.note_request_sent(ip(1), sent);
        assert_eq!(c.lookup(ip(1), sent), NeighborAnswer::RateLimited);
        assert_eq!(
            c.lookup(ip(1), sent + Duration::from_micros(999_999)),
            NeighborAnswer::RateLimited
        );
        assert_eq!(
            c.request_allowed_at(ip(1), sent),
            Some(sent + Duration::from_secs(1))
        );
        assert_eq!(
            c.lookup(ip(1), sent + Duration::from_secs(1)),
            NeighborAnswer::NotFound
        );
        assert_eq!(
            c.request_allowed_at(ip(1), sent + Duration::from_secs(1)),
            None
        );
        // Another address is not limited by this one.
        assert_eq!(c.lookup(ip(2), sent), NeighborAnswer::NotFound);
        // A second request restarts the window.
        let again = sent + Duration::from_millis(1_500);
        c.note_request_sent(ip(1), again);
        assert_eq!(
            c.lookup(ip(1), again + Duration::from_micros(999_999)),
            NeighborAnswer::RateLimited
        );
        // The reply ends the rate limiting and resolves.
        c.fill(ip(1), MAC_A, again + Duration::from_millis(2));
        assert_eq!(
            c.lookup(ip(1), again + Duration::from_millis(3)),
            NeighborAnswer::Found(MAC_A)
        );
        assert_eq!(
            c.request_allowed_at(ip(1), again + Duration::from_millis(3)),
            None
        );
    }

    #[test]
    fn refresh_request_for_expired_entry() {
        let mut c = cache(2);
        c.fill(ip(1), MAC_A, Instant::from_secs(0));
        // Expired at 60 s; a new request is sent at 60 s.
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(60)),
            NeighborAnswer::NotFound
        );
        c.note_request_sent(ip(1), Instant::from_secs(60));
        assert_eq!(
            c.lookup(ip(1), Instant::from_millis(60_500)),
            NeighborAnswer::RateLimited
        );
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(61)),
            NeighborAnswer::NotFound
        );
        // A request noted while the mapping is still valid keeps it usable.
        c.fill(ip(1), MAC_B, Instant::from_secs(70));
        c.note_request_sent(ip(1), Instant::from_secs(125));
        assert_eq!(
            c.lookup(ip(1), Instant::from_secs(125)),
            NeighborAnswer::Found(MAC_B)
        );
        assert_eq!(
            c.lookup(ip(1), Instant::from_micros(130_500_000)),
            NeighborAnswer::NotFound
        );
    }

    #[test]
    fn evicts_entry_expiring_soonest() {
        let mut c = cache(3);
        c.fill(ip(1), MAC_A, Instant::from_secs(10)); // expires 70
        c.fill(ip(2), MAC_A, Instant::from_secs(5)); // expires 65
        c.fill(ip(3), MAC_A, Instant::from_secs(20)); // expires 80
        c.fill(ip(4), MAC_B, Instant::from_secs(21));
        let now = Instant::from_secs(21);
        assert_eq!(
            c.lookup(ip(2), now),
            NeighborAnswer::NotFound,
            "soonest evicted"
        );
        assert_eq!(c.lookup(ip(1), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(3), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(4), now), NeighborAnswer::Found(MAC_B));
        // Refreshing does not evict anything.
        c.fill(ip(1), MAC_B, Instant::from_secs(22)); // now expires 82
        assert_eq!(c.lookup(ip(3), now), NeighborAnswer::Found(MAC_A));
        // Next victim is ip 3 (80) rather than ip 4 (81) or ip 1 (82).
        c.note_request_sent(ip(5), Instant::from_secs(23));
        let now = Instant::from_secs(23);
        assert_eq!(c.lookup(ip(3), now), NeighborAnswer::NotFound);
        assert_eq!(c.lookup(ip(5), now), NeighborAnswer::RateLimited);
        assert_eq!(c.lookup(ip(4), now), NeighborAnswer::Found(MAC_B));
        assert_eq!(c.lookup(ip(1), now), NeighborAnswer::Found(MAC_B));
        // The pending entry for ip 5 is useful only until 24 s: it goes next.
        c.fill(ip(6), MAC_A, Instant::from_secs(23));
        assert_eq!(c.lookup(ip(5), now), NeighborAnswer::NotFound);
        assert_eq!(c.lookup(ip(6), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(4), now), NeighborAnswer::Found(MAC_B));
        assert_eq!(c.lookup(ip(1), now), NeighborAnswer::Found(MAC_B));
    }

    #[test]
    fn empty_slots_used_before_eviction() {
        let mut c = cache(3);
        c.fill(ip(1), MAC_A, Instant::from_secs(0));
        c.fill(ip(2), MAC_A, Instant::from_secs(10));
        c.fill(ip(3), MAC_A, Instant::from_secs(20));
        let now = Instant::from_secs(30);
        for i in 1..=3 {
            assert_eq!(c.lookup(ip(i), now), NeighborAnswer::Found(MAC_A));
        }
        // When full, the dead entry (ip 1, expired at 60 s) is replaced.
        c.fill(ip(4), MAC_B, Instant::from_secs(61));
        let now = Instant::from_secs(61);
        assert_eq!(c.lookup(ip(2), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(3), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(4), now), NeighborAnswer::Found(MAC_B));
        assert_eq!(c.find(ip(1)).map(|e| e.ip), None, "ip 1 was replaced");
    }

    #[test]
    fn ignores_group_addresses() {
        let mut c = cache(2);
        let now = Instant::from_secs(1);
        c.fill(ip(1), EthernetAddress::BROADCAST, now);
        c.fill(ip(2), EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]), now);
        c.fill(IpAddress::v4(255, 255, 255, 255), MAC_A, now);
        c.fill(IpAddress::v4(0, 0, 0, 0), MAC_A, now);
        assert_eq!(c.lookup(ip(1), now), NeighborAnswer::NotFound);
        assert_eq!(c.lookup(ip(2), now), NeighborAnswer::NotFound);
        assert_eq!(
            c.lookup(IpAddress::v4(255, 255, 255, 255), now),
            NeighborAnswer::NotFound
        );
        // Nothing was stored, so two real entries still fit.
        c.fill(ip(3), MAC_A, now);
        c.fill(ip(4), MAC_B, now);
        assert_eq!(c.lookup(ip(3), now), NeighborAnswer::Found(MAC_A));
        assert_eq!(c.lookup(ip(4), now), NeighborAnswer::Found(MAC_B));
    }

    #[test]
    fn flush_and_zero_capacity() {
        let mut c = cache(2);
        let now = Instant::from_secs(1);
        c.fill(ip(1), MAC_A, now);
        c.note_request_sent(ip(2), now);
        c.flush();
        assert_eq!(c.lookup(ip(1), now), NeighborAnswer::NotFound);
        assert_eq!(c.lookup(ip(2), now), NeighborAnswer::NotFound);
        let mut storage: [Neighbor; 0] = [];
        let mut none = NeighborCache::new(&mut storage[..]);
        none.fill(ip(1), MAC_A, now);
        none.note_request_sent(ip(1), now);
        assert_eq!(none.capacity(), 0);
        assert_eq!(none.lookup(ip(1), now), NeighborAnswer::NotFound);
    }
}
