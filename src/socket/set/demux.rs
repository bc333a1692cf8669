//! O(1) demultiplexing: an open-addressing hash table
//! from a connection's 4-tuple, or a bound endpoint (a TCP listener's local
//! address and port), to what owns it in the socket set: a socket slot or a
//! compact TCP record (half-open or TIME_WAIT).
//!
//! # Keys are kind-aware
//! A [`DemuxKey`] names its transport protocol, so TCP and (later) UDP
//! entries share one table without colliding, and the lookup order a kind
//! needs is a sequence of exact-key lookups: a TCP segment tries its
//! 4-tuple, then a listener on its exact local address, then the wildcard
//! listener on its port; a UDP datagram tries a connected 4-tuple first,
//! then its exact bound endpoint, then the wildcard on its port, in the
//! same way. An ICMP echo socket is a bound key of protocol ICMP whose
//! "port" is its echo identifier.
//!
//! # Layout
//! Each bucket holds only a 32-bit hash of its key and the [`Target`] it
//! points at: 8 bytes. The key itself lives with its owner (a socket's
//! endpoints, a record's 4-tuple), so a lookup compares hashes first and
//! then asks the caller whether the owner of a candidate has the key
//! (`matches`); an owner whose endpoints changed since it was entered
//! simply stops matching. Linear probing with backward-shift deletion: no
//! tombstones, so a table that sees millions of connections come and go
//! never degrades, and a lookup stops at the first empty bucket.
//!
//! # Hashing
//! Keys are hashed with SipHash-1-3 under the [`SipKey`] from the interface
//! configuration: the same seed gives the same table layout (replays are
//! deterministic), while a peer who does not know the key cannot choose
//! 4-tuples that all land in one probe run. The key bytes are written into a
//! fixed stack buffer, so hashing allocates nothing.
//!
//! # Sizing
//! Storage is the caller's ([`ManagedSlice`]), fixed at construction; the
//! table works with any length, not only powers of two. Linear probing stays
//! fast up to a load factor of about one half, so the socket set requires
//! [`slots_for`]: two buckets per entry that can exist at once.

use managed::ManagedSlice;

use crate::storage::siphash::{SipKey, siphash13};
use crate::wire::{IpAddress, IpEndpoint, IpListenEndpoint, IpProtocol};

/// How many buckets to provide for `entries` possible entries: twice as
/// many, so the load factor stays at or below one half.
pub const fn slots_for(entries: usize) -> usize {
    entries.saturating_mul(2)
}

/// An insert failed: every bucket of the table is occupied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemuxFull;

/// What an entry is found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemuxKey {
    /// A connection (or connected socket) by its 4-tuple.
    Connection {
        /// The transport protocol.
        protocol: IpProtocol,
        /// Our end.
        local: IpEndpoint,
        /// The peer's end.
        remote: IpEndpoint,
    },
    /// A bound endpoint (a TCP listener): local address (`None`: any) and
    /// port. An exact address and the wildcard are different keys.
    Bound {
        /// The transport protocol.
        protocol: IpProtocol,
        /// The local endpoint.
        local: IpListenEndpoint,
    },
}

/// What an entry points at in the socket set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A socket slot.
    Socket(usize),
    /// A TCP half-open (SYN_RCVD) record.
    HalfOpen(usize),
    /// A TCP TIME_WAIT record.
    TimeWait(usize),
}

/// Bits of a stored target that say its kind.
const TARGET_KIND_SHIFT: u32 = 30;
const TARGET_INDEX_MASK: u32 = (1 << TARGET_KIND_SHIFT) - 1;
/// The largest index a [`Target`] can carry.
pub const MAX_TARGET_INDEX: usize = TARGET_INDEX_MASK as usize - 1;
/// An empty bucket's target.
const EMPTY: u32 = u32::MAX;

impl Target {
    fn encode(self) -> u32 {
        let (kind, index) = match self {
            Target::Socket(i) => (0, i),
            Target::HalfOpen(i) => (1, i),
            Target::TimeWait(i) => (2, i),
        };
        // Indices are bounded by MAX_TARGET_INDEX at set construction.
        let index = u32::try_from(index).unwrap_or(TARGET_INDEX_MASK) & TARGET_INDEX_MASK;
        (kind << TARGET_KIND_SHIFT) | index
    }

    fn decode(raw: u32) -> Option<Target> {
        let index = (raw & TARGET_INDEX_MASK) as usize;
        match raw >> TARGET_KIND_SHIFT {
            0 => Some(Target::Socket(index)),
            1 => Some(Target::HalfOpen(index)),
            2 => Some(Target::TimeWait(index)),
            _ => None,
        }
    }
}

/// Longest encoding of a key for hashing: a tag, the protocol, two
/// addresses each with a length byte (room for 16-byte IPv6 addresses), and
/// two ports.
const KEY_BYTES_MAX: usize = 2 + 2 * (1 + 16) + 2 * 2;

/// Tags that keep the encodings of different key kinds apart.
const TAG_CONNECTION: u8 = 1;
const TAG_BOUND_EXACT: u8 = 2;
const TAG_BOUND_ANY: u8 = 3;

/// Writes key bytes into a fixed buffer; silently stops at its end, which a
/// key never reaches (KEY_BYTES_MAX covers the longest one).
struct KeyWriter {
    bytes: [u8; KEY_BYTES_MAX],
    len: usize,
}

impl KeyWriter {
    fn new(tag: u8, protocol: IpProtocol) -> KeyWriter {
        let mut writer = KeyWriter {
            bytes: [0; KEY_BYTES_MAX],
            len: 0,
        };
        writer.put(&[tag, u8::from(protocol)]);
        writer
    }

    fn put(&mut self, data: &[u8]) {
        let end = self.len.saturating_add(data.len());
        if let Some(dst) = self.bytes.get_mut(self.len..end) {
            dst.copy_from_slice(data);
            self.len = end;
        }
    }

    /// An address prefixed with its length, so the encoding stays
    /// unambiguous with addresses of different lengths.
    fn put_addr(&mut self, addr: &IpAddress) {
        let bytes = addr.as_bytes();
        // An address is at most 16 bytes, so its length fits in a byte.
        self.put(&[bytes.len() as u8]);
        self.put(bytes);
    }

    fn put_port(&mut self, port: u16) {
        self.put(&port.to_be_bytes());
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl DemuxKey {
    /// A TCP connection's key.
    pub const fn tcp_connection(local: IpEndpoint, remote: IpEndpoint) -> DemuxKey {
        DemuxKey::Connection {
            protocol: IpProtocol::Tcp,
            local,
            remote,
        }
    }

    /// A TCP listener's key.
    pub const fn tcp_listener(local: IpListenEndpoint) -> DemuxKey {
        DemuxKey::Bound {
            protocol: IpProtocol::Tcp,
            local,
        }
    }

    /// A connected UDP socket's key.
    pub const fn udp_connection(local: IpEndpoint, remote: IpEndpoint) -> DemuxKey {
        DemuxKey::Connection {
            protocol: IpProtocol::Udp,
            local,
            remote,
        }
    }

    /// A bound UDP socket's key (also a kind that speaks over UDP).
    pub const fn udp_bound(local: IpListenEndpoint) -> DemuxKey {
        DemuxKey::Bound {
            protocol: IpProtocol::Udp,
            local,
        }
    }

    /// An ICMP echo socket's key: its identifier.
    pub const fn icmp_ident(ident: u16) -> DemuxKey {
        DemuxKey::Bound {
            protocol: IpProtocol::Icmp,
            local: IpListenEndpoint {
                addr: None,
                port: ident,
            },
        }
    }

    /// The 64-bit SipHash-1-3 of the key's encoding.
    fn hash64(&self, sip_key: &SipKey) -> u64 {
        let writer = match self {
            DemuxKey::Connection {
                protocol,
                local,
                remote,
            } => {
                let mut w = KeyWriter::new(TAG_CONNECTION, *protocol);
                w.put_addr(&local.addr);
                w.put_addr(&remote.addr);
                w.put_port(local.port);
                w.put_port(remote.port);
                w
            }
            DemuxKey::Bound {
                protocol,
                local:
                    IpListenEndpoint {
                        addr: Some(addr),
                        port,
                    },
            } => {
                let mut w = KeyWriter::new(TAG_BOUND_EXACT, *protocol);
                w.put_addr(addr);
                w.put_port(*port);
                w
            }
            DemuxKey::Bound {
                protocol,
                local: IpListenEndpoint { addr: None, port },
            } => {
                let mut w = KeyWriter::new(TAG_BOUND_ANY, *protocol);
                w.put_port(*port);
                w
            }
        };
        siphash13(sip_key, writer.as_slice())
    }

    /// The key's hash as the table stores it: 32 bits folded from 64.
    pub fn hash(&self, sip_key: &SipKey) -> u32 {
        let h = self.hash64(sip_key);
        // Folding keeps every bit of the 64-bit hash in play.
        (h ^ (h >> 32)) as u32
    }
}

/// One bucket of the demultiplexing table's storage: a key's hash and what it
/// points at (8 bytes). The default bucket is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemuxSlot {
    hash: u32,
    target: u32,
}

impl DemuxSlot {
    /// An empty bucket, for building storage arrays without an allocator.
    pub const EMPTY: DemuxSlot = DemuxSlot {
        hash: 0,
        target: EMPTY,
    };

    fn is_empty(&self) -> bool {
        self.target == EMPTY
    }
}

impl Default for DemuxSlot {
    fn default() -> Self {
        DemuxSlot::EMPTY
    }
}

/// The demultiplexing table: key hashes to targets, on caller-provided
/// storage of fixed capacity; the keys stay with their owners.
#[derive(Debug)]
pub struct DemuxTable<'a> {
    slots: ManagedSlice<'a, DemuxSlot>,
    key: SipKey,
    len: usize,
    /// Bumped by every change to the entries, so a caller may remember a
    /// lookup's answer until the table next changes.
    generation: u32,
}

impl<'a> DemuxTable<'a> {
    /// A table on `storage`, hashing under `key`. Any previous contents of
    /// the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, DemuxSlot>>>(storage: S, key: SipKey) -> Self {
        let mut slots = storage.into();
        for slot in slots.iter_mut() {
            *slot = DemuxSlot::EMPTY;
        }
        DemuxTable {
            slots,
            key,
            len: 0,
            generation: 0,
        }
    }

    /// The hashing key.
    pub fn sip_key(&self) -> SipKey {
        self.key
    }

    /// Empties the table and hashes under `key` from now on (the caller
    /// enters the entries again).
    pub fn rekey(&mut self, key: SipKey) {
        self.clear();
        self.key = key;
    }

    /// The number of buckets.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The number of entries.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            *slot = DemuxSlot::EMPTY;
        }
        self.len = 0;
        self.generation = self.generation.wrapping_add(1);
    }

    /// A number that changes whenever an entry is entered or removed.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The hash of `key` under this table's key.
    pub fn hash(&self, key: &DemuxKey) -> u32 {
        key.hash(&self.key)
    }

    /// The first entry with `hash` whose target `matches` (the caller
    /// checks that the target's owner has the key it looks for).
    pub fn find(&self, hash: u32, mut matches: impl FnMut(Target) -> bool) -> Option<Target> {
        let capacity = self.slots.len();
        if capacity == 0 {
            return None;
        }
        let mut index = self.home(hash);
        // At most `capacity` steps: a full table has no empty bucket.
        for _ in 0..capacity {
            let slot = self.slots.get(index)?;
            if slot.is_empty() {
                return None;
            }
            if slot.hash == hash {
                if let Some(target) = Target::decode(slot.target) {
                    if matches(target) {
                        return Some(target);
                    }
                }
            }
            index = self.next_index(index);
        }
        None
    }

    /// Enters `target` under `hash`. Duplicates are the caller's concern
    /// (look the key up first).
    pub fn insert(&mut self, hash: u32, target: Target) -> Result<(), DemuxFull> {
        let capacity = self.slots.len();
        if capacity == 0 {
            return Err(DemuxFull);
        }
        let mut index = self.home(hash);
        for _ in 0..capacity {
            let slot = self.slots.get_mut(index).ok_or(DemuxFull)?;
            if slot.is_empty() {
                *slot = DemuxSlot {
                    hash,
                    target: target.encode(),
                };
                self.len += 1;
                self.generation = self.generation.wrapping_add(1);
                return Ok(());
            }
            index = self.next_index(index);
        }
        Err(DemuxFull)
    }

    /// Removes the entry for `target` entered under `hash`; whether there
    /// was one.
    pub fn remove(&mut self, hash: u32, target: Target) -> bool {
        let capacity = self.slots.len();
        if capacity == 0 || self.len == 0 {
            return false;
        }
        let raw = target.encode();
        let mut index = self.home(hash);
        for _ in 0..capacity {
            let Some(slot) = self.slots.get_mut(index) else {
                return false;
            };
            if slot.is_empty() {
                return false;
            }
            if slot.hash == hash && slot.target == raw {
                *slot = DemuxSlot::EMPTY;
                self.len -= 1;
                self.generation = self.generation.wrapping_add(1);
                self.backward_shift(index);
                return true;
            }
            index = self.next_index(index);
        }
        false
    }

    /// The home index of a hash: Lemire's multiply-shift range reduction,
    /// which works for any capacity (no power of two required) and uses the
    /// hash's high bits. Only called with a non-zero capacity.
    fn home(&self, hash: u32) -> usize {
        let capacity = self.slots.len() as u64;
        // The product shifted right by 32 is below `capacity`, so it fits.
        ((u64::from(hash) * capacity) >> 32) as usize
    }

    /// The index after `index`, wrapping at the end of the table.
    fn next_index(&self, index: usize) -> usize {
        let next = index + 1;
        if next == self.slots.len() { 0 } else { next }
    }

    /// Closes the hole at `hole` left by a removal: walks the probe run that
    /// follows it and moves back every entry whose home is not between the
    /// hole and its current index (cyclically), so every remaining entry is
    /// still reachable from its home without crossing an empty bucket.
    fn backward_shift(&mut self, mut hole: usize) {
        let capacity = self.slots.len();
        let mut index = self.next_index(hole);
        // At most `capacity - 1` entries follow the hole.
        for _ in 1..capacity {
            let Some(entry) = self.slots.get(index).copied() else {
                return;
            };
            if entry.is_empty() {
                return;
            }
            let home = self.home(entry.hash);
            // Distances measured forward, wrapping: from the entry's home to
            // its index, and from the hole to its index. The entry may fill
            // the hole only if the hole lies within its probe path.
            let home_to_index = (index + capacity - home) % capacity;
            let hole_to_index = (index + capacity - hole) % capacity;
            if home_to_index >= hole_to_index {
                if let Some(dst) = self.slots.get_mut(hole) {
                    *dst = entry;
                }
                if let Some(src) = self.slots.get_mut(index) {
                    *src = DemuxSlot::EMPTY;
                }
                hole = index;
            }
            index = self.next_index(index);
        }
    }

    /// Checks the table's invariant: every entry is reachable from its home
    /// (no empty bucket between them), and `len` counts the entries.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let capacity = self.slots.len();
        let mut count = 0;
        for (index, slot) in self.slots.iter().enumerate() {
            if slot.is_empty() {
                continue;
            }
            count += 1;
            let mut at = self.home(slot.hash);
            while at != index {
                assert!(
                    !self.slots[at].is_empty(),
                    "gap at {at} before entry at {index}"
                );
                at = (at + 1) % capacity;
            }
        }
        assert_eq!(count, self.len);
    }

    /// The bucket index holding `target` under `hash`, for layout tests.
    #[cfg(test)]
    fn index_of(&self, hash: u32, target: Target) -> Option<usize> {
        (0..self.slots.len()).find(|&i| {
            let slot = self.slots[i];
            slot.hash == hash && slot.target == target.encode()
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::wire::Ipv4Address;
    use std::collections::{HashMap, HashSet};
    use std::vec;
    use std::vec::Vec;

    const KEY_A: SipKey = SipKey([0x0706050403020100, 0x0f0e0d0c0b0a0908]);
    const KEY_B: SipKey = SipKey([0x1111111111111111, 0x2222222222222222]);

    /// xorshift64*: a seeded PRNG so the randomized tests are reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn ep(a: u8, b: u8, c: u8, d: u8, port: u16) -> IpEndpoint {
        IpEndpoint::new(IpAddress::v4(a, b, c, d), port)
    }

    fn random_tuple(rng: &mut Rng) -> (IpEndpoint, IpEndpoint) {
        let local = ep(10, 0, 0, 1 + rng.below(2) as u8, 80 + rng.below(3) as u16);
        let r = rng.next();
        let remote = IpEndpoint::new(
            IpAddress::Ipv4(Ipv4Address::new(192, 168, (r >> 8) as u8, r as u8)),
            (r >> 16) as u16,
        );
        (local, remote)
    }

    /// Why an insert through [`Table`] failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum DemuxError {
        Full,
        Duplicate,
    }

    /// The table with a model of the owners' keys (target -> key), answering
    /// the lookups the socket set makes: a target matches when its owner has
    /// the key looked for.
    struct Table {
        t: DemuxTable<'static>,
        owners: HashMap<Target, DemuxKey>,
        key: SipKey,
    }

    fn conn(local: IpEndpoint, remote: IpEndpoint) -> DemuxKey {
        DemuxKey::tcp_connection(local, remote)
    }

    fn bound(local: IpListenEndpoint) -> DemuxKey {
        DemuxKey::tcp_listener(local)
    }

    impl Table {
        fn capacity(&self) -> usize {
            self.t.capacity()
        }
        fn len(&self) -> usize {
            self.t.len()
        }
        fn is_empty(&self) -> bool {
            self.t.is_empty()
        }
        fn check_invariants(&self) {
            self.t.check_invariants();
            for (target, key) in &self.owners {
                let h = self.t.hash(key);
                assert!(self.t.index_of(h, *target).is_some(), "{target:?} lost");
            }
        }
        fn insert_key(&mut self, key: DemuxKey, slot: usize) -> Result<(), DemuxError> {
            if self.lookup_key(&key).is_some() {
                return Err(DemuxError::Duplicate);
            }
            let target = Target::Socket(slot);
            self.t
                .insert(self.t.hash(&key), target)
                .map_err(|_| DemuxError::Full)?;
            self.owners.insert(target, key);
            Ok(())
        }
        fn lookup_key(&self, key: &DemuxKey) -> Option<usize> {
            let owners = &self.owners;
            match self
                .t
                .find(self.t.hash(key), |t| owners.get(&t) == Some(key))
            {
                Some(Target::Socket(slot)) => Some(slot),
                _ => None,
            }
        }
        fn remove_key(&mut self, key: &DemuxKey) -> Option<usize> {
            let slot = self.lookup_key(key)?;
            assert!(self.t.remove(self.t.hash(key), Target::Socket(slot)));
            self.owners.remove(&Target::Socket(slot));
            Some(slot)
        }
        fn insert_connection(
            &mut self,
            l: IpEndpoint,
            r: IpEndpoint,
            slot: usize,
        ) -> Result<(), DemuxError> {
            self.insert_key(conn(l, r), slot)
        }
        fn lookup_connection(&self, l: IpEndpoint, r: IpEndpoint) -> Option<usize> {
            self.lookup_key(&conn(l, r))
        }
        fn remove_connection(&mut self, l: IpEndpoint, r: IpEndpoint) -> Option<usize> {
            self.remove_key(&conn(l, r))
        }
        fn insert_listener(&mut self, ep: IpListenEndpoint, slot: usize) -> Result<(), DemuxError> {
            self.insert_key(bound(ep), slot)
        }
        /// Exact local address first, then the wildcard, as the set does.
        fn lookup_listener(&self, addr: IpAddress, port: u16) -> Option<usize> {
            self.lookup_key(&bound(IpListenEndpoint {
                addr: Some(addr),
                port,
            }))
            .or_else(|| self.lookup_key(&bound(IpListenEndpoint { addr: None, port })))
        }
        fn remove_listener(&mut self, ep: IpListenEndpoint) -> Option<usize> {
            self.remove_key(&bound(ep))
        }
        fn home_of(&self, key: &DemuxKey) -> usize {
            self.t.home(key.hash(&self.key))
        }
        fn index_of(&self, key: &DemuxKey) -> Option<usize> {
            let slot = self.lookup_key(key)?;
            self.t.index_of(self.t.hash(key), Target::Socket(slot))
        }
        /// Which socket slot each bucket points at.
        fn layout(&self) -> Vec<Option<usize>> {
            self.t
                .slots
                .iter()
                .map(|b| match Target::decode(b.target) {
                    Some(Target::Socket(i)) if !b.is_empty() => Some(i),
                    _ => None,
                })
                .collect()
        }
    }

    /// A table on leaked borrowed storage, so the tests run with and
    /// without the `alloc` feature.
    fn table(n: usize, key: SipKey) -> Table {
        Table {
            t: DemuxTable::new(vec![DemuxSlot::default(); n].leak(), key),
            owners: HashMap::new(),
            key,
        }
    }

    #[test]
    fn slots_for_doubles() {
        assert_eq!(slots_for(0), 0);
        assert_eq!(slots_for(5000), 10_000);
        assert_eq!(slots_for(usize::MAX), usize::MAX);
    }

    #[test]
    fn targets_round_trip() {
        for target in [
            Target::Socket(0),
            Target::Socket(MAX_TARGET_INDEX),
            Target::HalfOpen(7),
            Target::TimeWait(123_456),
        ] {
            assert_eq!(Target::decode(target.encode()), Some(target));
            assert_ne!(target.encode(), EMPTY);
        }
        assert_ne!(Target::Socket(3).encode(), Target::HalfOpen(3).encode());
    }

    #[test]
    fn protocol_is_part_of_the_key() {
        let l = ep(10, 0, 0, 1, 53);
        let r = ep(10, 0, 0, 2, 5353);
        let tcp = DemuxKey::tcp_connection(l, r);
        let udp = DemuxKey::Connection {
            protocol: IpProtocol::Udp,
            local: l,
            remote: r,
        };
        assert_ne!(tcp, udp);
        assert_ne!(tcp.hash(&KEY_A), udp.hash(&KEY_A));
        let tcp_bound = DemuxKey::tcp_listener(IpListenEndpoint::from(53));
        let udp_bound = DemuxKey::Bound {
            protocol: IpProtocol::Udp,
            local: IpListenEndpoint::from(53),
        };
        assert_ne!(tcp_bound.hash(&KEY_A), udp_bound.hash(&KEY_A));
    }

    #[test]
    fn key_encoding_is_unambiguous() {
        let conn = conn(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 1234));
        let mut w = KeyWriter::new(TAG_CONNECTION, IpProtocol::Tcp);
        w.put_addr(&IpAddress::v4(10, 0, 0, 1));
        assert_eq!(w.as_slice(), &[1, 6, 4, 10, 0, 0, 1]);
        // Swapping the ends is a different connection.
        let swapped = super::DemuxKey::tcp_connection(ep(10, 0, 0, 2, 1234), ep(10, 0, 0, 1, 80));
        assert_ne!(conn.hash(&KEY_A), swapped.hash(&KEY_A));
        let exact = bound(IpListenEndpoint {
            addr: Some(IpAddress::v4(0, 0, 0, 0)),
            port: 80,
        });
        let any = bound(IpListenEndpoint {
            addr: None,
            port: 80,
        });
        assert_ne!(exact.hash(&KEY_A), any.hash(&KEY_A));
    }

    #[test]
    fn insert_lookup_remove_one() {
        let mut t = table(8, KEY_A);
        let (l, r) = (ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 5000));
        assert!(t.is_empty());
        assert_eq!(t.lookup_connection(l, r), None);
        assert_eq!(t.insert_connection(l, r, 3), Ok(()));
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup_connection(l, r), Some(3));
        assert_eq!(t.lookup_connection(r, l), None);
        assert_eq!(t.lookup_connection(l, ep(10, 0, 0, 2, 5001)), None);
        assert_eq!(t.remove_connection(l, r), Some(3));
        assert_eq!(t.remove_connection(l, r), None);
        assert_eq!(t.lookup_connection(l, r), None);
        assert!(t.is_empty());
    }

    #[test]
    fn duplicate_keeps_first_slot() {
        let mut t = table(8, KEY_A);
        let (l, r) = (ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 5000));
        t.insert_connection(l, r, 1).unwrap();
        assert_eq!(t.insert_connection(l, r, 2), Err(DemuxError::Duplicate));
        assert_eq!(t.lookup_connection(l, r), Some(1));
        assert_eq!(t.len(), 1);
        t.insert_listener(IpListenEndpoint::from(80), 4).unwrap();
        assert_eq!(
            t.insert_listener(IpListenEndpoint::from(80), 5),
            Err(DemuxError::Duplicate)
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn full_table_refuses_and_still_answers() {
        let mut t = table(4, KEY_A);
        for i in 0..4u16 {
            t.insert_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, i), usize::from(i))
                .unwrap();
        }
        assert_eq!(t.len(), 4);
        // Full beats Duplicate only when the key is absent.
        assert_eq!(
            t.insert_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 99), 9),
            Err(DemuxError::Full)
        );
        assert_eq!(
            t.insert_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 2), 9),
            Err(DemuxError::Duplicate)
        );
        // A miss in a full table terminates.
        assert_eq!(
            t.lookup_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 99)),
            None
        );
        assert_eq!(t.lookup_listener(IpAddress::v4(10, 0, 0, 1), 80), None);
        for i in 0..4u16 {
            assert_eq!(
                t.lookup_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, i)),
                Some(usize::from(i))
            );
        }
        assert_eq!(
            t.remove_connection(ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 1)),
            Some(1)
        );
        assert_eq!(t.insert_listener(IpListenEndpoint::from(22), 7), Ok(()));
        assert_eq!(t.lookup_listener(IpAddress::v4(1, 2, 3, 4), 22), Some(7));
        t.check_invariants();
    }

    #[test]
    fn zero_capacity() {
        let mut t = table(0, KEY_A);
        assert_eq!(t.capacity(), 0);
        let (l, r) = (ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 5000));
        assert_eq!(t.insert_connection(l, r, 0), Err(DemuxError::Full));
        assert_eq!(t.lookup_connection(l, r), None);
        assert_eq!(t.remove_connection(l, r), None);
        assert_eq!(t.lookup_listener(l.addr, 80), None);
    }

    #[test]
    fn borrowed_storage_is_reset() {
        let mut storage = [DemuxSlot::EMPTY; 16];
        {
            let mut t = DemuxTable::new(&mut storage[..], KEY_A);
            let key = bound(IpListenEndpoint::from(80));
            t.insert(t.hash(&key), Target::Socket(1)).unwrap();
        }
        let t = DemuxTable::new(&mut storage[..], KEY_A);
        assert!(t.is_empty());
        let key = bound(IpListenEndpoint::from(80));
        assert_eq!(t.find(t.hash(&key), |_| true), None);
    }

    #[test]
    fn wildcard_and_exact_listeners() {
        let mut t = table(16, KEY_A);
        let a1 = IpAddress::v4(10, 0, 0, 1);
        let a2 = IpAddress::v4(10, 0, 0, 2);
        let exact = IpListenEndpoint {
            addr: Some(a1),
            port: 80,
        };
        let any = IpListenEndpoint {
            addr: None,
            port: 80,
        };
        t.insert_listener(any, 1).unwrap();
        assert_eq!(t.lookup_listener(a1, 80), Some(1));
        assert_eq!(t.lookup_listener(a2, 80), Some(1));
        assert_eq!(t.lookup_listener(a1, 81), None);
        t.insert_listener(exact, 2).unwrap();
        assert_eq!(t.lookup_listener(a1, 80), Some(2), "exact address wins");
        assert_eq!(
            t.lookup_listener(a2, 80),
            Some(1),
            "others fall back to wildcard"
        );
        // A connection with the same local endpoint is a separate key.
        t.insert_connection(IpEndpoint::new(a1, 80), ep(1, 2, 3, 4, 5), 3)
            .unwrap();
        assert_eq!(t.lookup_listener(a1, 80), Some(2));
        assert_eq!(t.remove_listener(any), Some(1));
        assert_eq!(t.lookup_listener(a2, 80), None);
        assert_eq!(t.lookup_listener(a1, 80), Some(2));
        assert_eq!(t.remove_listener(any), None);
        assert_eq!(t.remove_listener(exact), Some(2));
        assert_eq!(t.lookup_listener(a1, 80), None);
        assert_eq!(
            t.lookup_connection(IpEndpoint::new(a1, 80), ep(1, 2, 3, 4, 5)),
            Some(3)
        );
        // Only an exact listener: no fallback for other addresses.
        t.insert_listener(exact, 4).unwrap();
        assert_eq!(t.lookup_listener(a2, 80), None);
        t.check_invariants();
    }

    /// With a tiny table almost every key collides; removal of any entry in
    /// a probe run (including runs that wrap past the end) must keep the
    /// others reachable.
    #[test]
    fn removal_under_collisions() {
        for capacity in [1usize, 2, 3, 5, 8] {
            for seed in 1..40u64 {
                let mut rng = Rng(seed);
                let mut t = table(capacity, KEY_A);
                let mut model: HashMap<(IpEndpoint, IpEndpoint), usize> = HashMap::new();
                let tuples: Vec<_> = (0..capacity).map(|_| random_tuple(&mut rng)).collect();
                for (i, &(l, r)) in tuples.iter().enumerate() {
                    if model.contains_key(&(l, r)) {
                        continue;
                    }
                    t.insert_connection(l, r, i).unwrap();
                    model.insert((l, r), i);
                }
                t.check_invariants();
                // Remove in a random order, checking all survivors each time.
                let mut order: Vec<_> = model.keys().copied().collect();
                order.sort();
                while !order.is_empty() {
                    let (l, r) = order.swap_remove(rng.below(order.len() as u64) as usize);
                    assert_eq!(t.remove_connection(l, r), model.remove(&(l, r)));
                    t.check_invariants();
                    for (&(l, r), &slot) in &model {
                        assert_eq!(t.lookup_connection(l, r), Some(slot));
                    }
                    assert_eq!(t.lookup_connection(l, r), None);
                }
                assert!(t.is_empty());
            }
        }
    }

    /// Forces a specific wrap-around layout: find keys whose home is the last
    /// index, fill past the end, then delete the first of the run.
    #[test]
    fn removal_wraps_around_end() {
        let capacity = 8;
        let mut t = table(capacity, KEY_A);
        let mut rng = Rng(7);
        let mut at_end = Vec::new();
        while at_end.len() < 3 {
            let (l, r) = random_tuple(&mut rng);
            let key = conn(l, r);
            if t.home_of(&key) == capacity - 1 && !at_end.contains(&(l, r)) {
                at_end.push((l, r));
            }
        }
        for (i, &(l, r)) in at_end.iter().enumerate() {
            t.insert_connection(l, r, i).unwrap();
        }
        let idx = |t: &Table, (l, r): (IpEndpoint, IpEndpoint)| t.index_of(&conn(l, r));
        assert_eq!(idx(&t, at_end[0]), Some(7));
        assert_eq!(idx(&t, at_end[1]), Some(0));
        assert_eq!(idx(&t, at_end[2]), Some(1));
        assert_eq!(t.remove_connection(at_end[0].0, at_end[0].1), Some(0));
        assert_eq!(idx(&t, at_end[1]), Some(7));
        assert_eq!(idx(&t, at_end[2]), Some(0));
        assert_eq!(t.layout()[1], None);
        t.check_invariants();
    }

    /// An entry that sits at its home must not be pulled back into an
    /// earlier hole by backward shift.
    #[test]
    fn backward_shift_leaves_home_entries() {
        let capacity = 8;
        let mut t = table(capacity, KEY_A);
        let mut rng = Rng(11);
        let mut want = |home: usize, t: &Table| loop {
            let (l, r) = random_tuple(&mut rng);
            if t.home_of(&conn(l, r)) == home {
                break (l, r);
            }
        };
        let a = want(2, &t);
        let b = want(3, &t);
        t.insert_connection(a.0, a.1, 0).unwrap();
        t.insert_connection(b.0, b.1, 1).unwrap();
        assert_eq!(t.remove_connection(a.0, a.1), Some(0));
        assert_eq!(t.index_of(&conn(b.0, b.1)), Some(3));
        assert_eq!(t.layout()[2], None);
        t.check_invariants();
    }

    /// 10,000 connections and some listeners in 32768 slots, under random
    /// insert/lookup/remove, checked against a std HashMap.
    #[test]
    fn randomized_against_hashmap() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut t = table(32768, KEY_A);
        let mut conns: HashMap<(IpEndpoint, IpEndpoint), usize> = HashMap::new();
        let mut listeners: HashMap<IpListenEndpoint, usize> = HashMap::new();
        let mut live: Vec<(IpEndpoint, IpEndpoint)> = Vec::new();
        let mut next_slot = 0usize;
        while conns.len() < 10_000 {
            let (l, r) = random_tuple(&mut rng);
            let expect = if conns.contains_key(&(l, r)) {
                Err(DemuxError::Duplicate)
            } else {
                Ok(())
            };
            assert_eq!(t.insert_connection(l, r, next_slot), expect);
            if expect.is_ok() {
                conns.insert((l, r), next_slot);
                live.push((l, r));
            }
            next_slot += 1;
        }
        for port in 1..=50u16 {
            let addr = if port % 2 == 0 {
                Some(IpAddress::v4(10, 0, 0, 1))
            } else {
                None
            };
            let lep = IpListenEndpoint { addr, port };
            t.insert_listener(lep, 100_000 + usize::from(port)).unwrap();
            listeners.insert(lep, 100_000 + usize::from(port));
        }
        assert_eq!(t.len(), 10_050);
        t.check_invariants();
        for _ in 0..50_000 {
            match rng.below(4) {
                0 => {
                    let (l, r) = random_tuple(&mut rng);
                    let expect = if conns.contains_key(&(l, r)) {
                        Err(DemuxError::Duplicate)
                    } else {
                        Ok(())
                    };
                    assert_eq!(t.insert_connection(l, r, next_slot), expect);
                    if expect.is_ok() {
                        conns.insert((l, r), next_slot);
                        live.push((l, r));
                    }
                    next_slot += 1;
                }
                1 if !live.is_empty() => {
                    let (l, r) = live.swap_remove(rng.below(live.len() as u64) as usize);
                    assert_eq!(t.remove_connection(l, r), conns.remove(&(l, r)));
                    assert_eq!(t.remove_connection(l, r), None);
                }
                2 if !live.is_empty() => {
                    let (l, r) = live[rng.below(live.len() as u64) as usize];
                    assert_eq!(t.lookup_connection(l, r), conns.get(&(l, r)).copied());
                }
                _ => {
                    let (l, r) = random_tuple(&mut rng);
                    assert_eq!(t.lookup_connection(l, r), conns.get(&(l, r)).copied());
                    let port = rng.below(60) as u16;
                    let expect = listeners
                        .get(&IpListenEndpoint {
                            addr: Some(l.addr),
                            port,
                        })
                        .or_else(|| listeners.get(&IpListenEndpoint { addr: None, port }))
                        .copied();
                    assert_eq!(t.lookup_listener(l.addr, port), expect);
                }
            }
            assert_eq!(t.len(), conns.len() + listeners.len());
        }
        t.check_invariants();
        for (&(l, r), &slot) in &conns {
            assert_eq!(t.lookup_connection(l, r), Some(slot));
        }
        for (&(l, r), &slot) in &conns {
            assert_eq!(t.remove_connection(l, r), Some(slot));
        }
        assert_eq!(t.len(), listeners.len());
        t.check_invariants();
    }

    /// The SipKey decides the layout: the same tuples land on different home
    /// slots under two keys, and identically under the same key.
    #[test]
    fn key_changes_probe_order() {
        let a = table(1024, KEY_A);
        let b = table(1024, KEY_B);
        let a_again = table(1024, KEY_A);
        let mut rng = Rng(99);
        let mut differ = 0;
        let mut homes_a = HashSet::new();
        for _ in 0..200 {
            let (l, r) = random_tuple(&mut rng);
            let key = conn(l, r);
            let home_a = a.home_of(&key);
            let home_b = b.home_of(&key);
            assert_eq!(home_a, a_again.home_of(&key));
            homes_a.insert(home_a);
            if home_a != home_b {
                differ += 1;
            }
        }
        // With 1024 slots, an accidental match has probability 1/1024 each.
        assert!(differ >= 190, "only {differ} of 200 homes differ");
        assert!(homes_a.len() > 150, "homes are spread: {}", homes_a.len());

        // Same insertions under two keys give different slot layouts.
        let mut small_a = table(16, KEY_A);
        let mut small_b = table(16, KEY_B);
        let mut rng = Rng(5);
        for i in 0..8 {
            let (l, r) = random_tuple(&mut rng);
            small_a.insert_connection(l, r, i).unwrap();
            small_b.insert_connection(l, r, i).unwrap();
        }
        assert_ne!(small_a.layout(), small_b.layout());
    }
}
