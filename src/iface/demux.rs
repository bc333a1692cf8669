//! O(1) TCP demultiplexing: an open-addressing hash table
//! from a connection's 4-tuple, or a listener's (local address, port), to the
//! socket set's slot index.
//!
//! # Layout
//! Linear probing with backward-shift deletion: no tombstones, so a table
//! that sees millions of connections come and go never degrades, and a
//! lookup stops at the first empty slot. Each occupied slot remembers its
//! key's full 64-bit hash, so lookups compare hashes before keys and
//! deletion can find an entry's home slot without rehashing.
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
//! fast up to a load factor of about one half, so size the storage with
//! [`slots_for`]: twice the number of sockets. The table never refuses an
//! insert before it is completely full, but probe runs grow long near that
//! point.

use managed::ManagedSlice;

use crate::storage::siphash::{SipKey, siphash13};
use crate::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

/// How many table slots to provide for `sockets` sockets: twice as many, so
/// the load factor stays at or below one half. Every socket occupies at most
/// one entry (a listener's or a connection's).
pub const fn slots_for(sockets: usize) -> usize {
    sockets.saturating_mul(2)
}

/// Why an insert failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DemuxError {
    /// Every slot of the table is occupied.
    Full,
    /// An entry with the same key is already present (its slot is unchanged).
    Duplicate,
}

impl core::fmt::Display for DemuxError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            DemuxError::Full => "the demultiplexing table is full",
            DemuxError::Duplicate => "the demultiplexing table already holds that key",
        })
    }
}

impl core::error::Error for DemuxError {}

/// What an entry is found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DemuxKey {
    /// An established (or connecting) socket, by its 4-tuple.
    Connection {
        local: IpEndpoint,
        remote: IpEndpoint,
    },
    /// A listening socket, by local address (`None`: any) and port.
    Listener { addr: Option<IpAddress>, port: u16 },
}

/// Longest encoding of a key for hashing: a tag, two addresses each with a
/// length byte (room for 16-byte IPv6 addresses), and two ports.
const KEY_BYTES_MAX: usize = 1 + 2 * (1 + 16) + 2 * 2;

/// Tags that keep the encodings of different key kinds apart.
const TAG_CONNECTION: u8 = 1;
const TAG_LISTENER_EXACT: u8 = 2;
const TAG_LISTENER_ANY: u8 = 3;

/// Writes key bytes into a fixed buffer; silently stops at its end, which a
/// key never reaches (KEY_BYTES_MAX covers the longest one).
struct KeyWriter {
    bytes: [u8; KEY_BYTES_MAX],
    len: usize,
}

impl KeyWriter {
    fn new(tag: u8) -> KeyWriter {
        let mut writer = KeyWriter {
            bytes: [0; KEY_BYTES_MAX],
            len: 0,
        };
        writer.put(&[tag]);
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
    /// unambiguous once addresses of different lengths exist.
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
    fn hash(&self, sip_key: &SipKey) -> u64 {
        let writer = match self {
            DemuxKey::Connection { local, remote } => {
                let mut w = KeyWriter::new(TAG_CONNECTION);
                w.put_addr(&local.addr);
                w.put_addr(&remote.addr);
                w.put_port(local.port);
                w.put_port(remote.port);
                w
            }
            DemuxKey::Listener {
                addr: Some(addr),
                port,
            } => {
                let mut w = KeyWriter::new(TAG_LISTENER_EXACT);
                w.put_addr(addr);
                w.put_port(*port);
                w
            }
            DemuxKey::Listener { addr: None, port } => {
                let mut w = KeyWriter::new(TAG_LISTENER_ANY);
                w.put_port(*port);
                w
            }
        };
        siphash13(sip_key, writer.as_slice())
    }
}

/// An occupied slot's contents.
#[derive(Debug, Clone, Copy)]
struct DemuxEntry {
    key: DemuxKey,
    hash: u64,
    slot: usize,
}

/// One slot of a [`DemuxTable`]'s storage. The caller allocates them, e.g.
/// `vec![DemuxSlot::default(); slots_for(n)]` or a static array; the default
/// slot is empty.
#[derive(Debug, Clone, Default)]
pub struct DemuxSlot {
    entry: Option<DemuxEntry>,
}

/// The demultiplexing table: 4-tuples and listening endpoints to socket set
/// slot indices, on caller-provided storage of fixed capacity.
#[derive(Debug)]
pub struct DemuxTable<'a> {
    slots: ManagedSlice<'a, DemuxSlot>,
    key: SipKey,
    len: usize,
}

/// Where a probe for a key ended.
enum Probe {
    /// The key is at this index.
    Found(usize),
    /// The key is absent; this is the first empty index of its probe run.
    Vacant(usize),
    /// The key is absent and the table has no empty slot.
    Full,
}

impl<'a> DemuxTable<'a> {
    /// How many slots to provide for `sockets` sockets; see [`slots_for`].
    pub const fn slots_for(sockets: usize) -> usize {
        slots_for(sockets)
    }

    /// A table on `storage`, hashing under `key`. Any previous contents of
    /// the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, DemuxSlot>>>(storage: S, key: SipKey) -> Self {
        let mut slots = storage.into();
        for slot in slots.iter_mut() {
            slot.entry = None;
        }
        DemuxTable { slots, key, len: 0 }
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The number of entries (connections plus listeners).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.entry = None;
        }
        self.len = 0;
    }

    /// Maps the connection `local` <-> `remote` to `slot`.
    pub fn insert_connection(
        &mut self,
        local: IpEndpoint,
        remote: IpEndpoint,
        slot: usize,
    ) -> Result<(), DemuxError> {
        self.insert(DemuxKey::Connection { local, remote }, slot)
    }

    /// The slot of the connection `local` <-> `remote`, if any.
    pub fn lookup_connection(&self, local: IpEndpoint, remote: IpEndpoint) -> Option<usize> {
        self.lookup(&DemuxKey::Connection { local, remote })
    }

    /// Removes the connection `local` <-> `remote`, returning its slot.
    pub fn remove_connection(&mut self, local: IpEndpoint, remote: IpEndpoint) -> Option<usize> {
        self.remove(&DemuxKey::Connection { local, remote })
    }

    /// Maps the listening endpoint `local` to `slot`. A listener on one
    /// address and a wildcard listener (`addr: None`) on the same port are
    /// different keys and may coexist.
    pub fn insert_listener(
        &mut self,
        local: IpListenEndpoint,
        slot: usize,
    ) -> Result<(), DemuxError> {
        self.insert(
            DemuxKey::Listener {
                addr: local.addr,
                port: local.port,
            },
            slot,
        )
    }

    /// The listener for a segment to `local_addr`:`port`.
    /// Exact local address first, then the wildcard (addr None) on that port.
    pub fn lookup_listener(&self, local_addr: IpAddress, port: u16) -> Option<usize> {
        self.lookup(&DemuxKey::Listener {
            addr: Some(local_addr),
            port,
        })
        .or_else(|| self.lookup(&DemuxKey::Listener { addr: None, port }))
    }

    /// Removes the listener registered for exactly `local` (a wildcard
    /// listener is removed only by a wildcard endpoint), returning its slot.
    pub fn remove_listener(&mut self, local: IpListenEndpoint) -> Option<usize> {
        self.remove(&DemuxKey::Listener {
            addr: local.addr,
            port: local.port,
        })
    }

    /// The home index of a hash: Lemire's multiply-shift range reduction,
    /// which works for any capacity (no power of two required) and uses the
    /// hash's high bits. Only called with a non-zero capacity.
    fn home(&self, hash: u64) -> usize {
        let capacity = self.slots.len() as u128;
        // The product shifted right by 64 is below `capacity`, so it fits.
        ((u128::from(hash) * capacity) >> 64) as usize
    }

    /// The index after `index`, wrapping at the end of the table.
    fn next_index(&self, index: usize) -> usize {
        let next = index + 1;
        if next == self.slots.len() { 0 } else { next }
    }

    fn probe(&self, key: &DemuxKey, hash: u64) -> Probe {
        let capacity = self.slots.len();
        if capacity == 0 {
            return Probe::Full;
        }
        let mut index = self.home(hash);
        // At most `capacity` steps: a full table has no empty slot to stop at.
        for _ in 0..capacity {
            match self.slots.get(index).and_then(|s| s.entry.as_ref()) {
                None => return Probe::Vacant(index),
                Some(entry) if entry.hash == hash && entry.key == *key => {
                    return Probe::Found(index);
                }
                Some(_) => index = self.next_index(index),
            }
        }
        Probe::Full
    }

    fn insert(&mut self, key: DemuxKey, slot: usize) -> Result<(), DemuxError> {
        if self.slots.is_empty() {
            return Err(DemuxError::Full);
        }
        let hash = key.hash(&self.key);
        match self.probe(&key, hash) {
            Probe::Found(_) => Err(DemuxError::Duplicate),
            Probe::Full => Err(DemuxError::Full),
            Probe::Vacant(index) => {
                let target = self.slots.get_mut(index).ok_or(DemuxError::Full)?;
                target.entry = Some(DemuxEntry { key, hash, slot });
                self.len += 1;
                Ok(())
            }
        }
    }

    fn lookup(&self, key: &DemuxKey) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        match self.probe(key, key.hash(&self.key)) {
            Probe::Found(index) => self.slots.get(index)?.entry.map(|e| e.slot),
            Probe::Vacant(_) | Probe::Full => None,
        }
    }

    fn remove(&mut self, key: &DemuxKey) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let Probe::Found(index) = self.probe(key, key.hash(&self.key)) else {
            return None;
        };
        let removed = self.slots.get_mut(index)?.entry.take()?;
        self.len -= 1;
        self.backward_shift(index);
        Some(removed.slot)
    }

    /// Closes the hole at `hole` left by a removal: walks the probe run that
    /// follows it and moves back every entry whose home is not between the
    /// hole and its current index (cyclically), so every remaining entry is
    /// still reachable from its home without crossing an empty slot.
    fn backward_shift(&mut self, mut hole: usize) {
        let capacity = self.slots.len();
        let mut index = self.next_index(hole);
        // At most `capacity - 1` entries follow the hole.
        for _ in 1..capacity {
            let Some(entry) = self.slots.get(index).and_then(|s| s.entry) else {
                return;
            };
            let home = self.home(entry.hash);
            // Distances measured forward, wrapping: from the entry's home to
            // its index, and from the hole to its index. The entry may fill
            // the hole only if the hole lies within its probe path.
            let home_to_index = (index + capacity - home) % capacity;
            let hole_to_index = (index + capacity - hole) % capacity;
            if home_to_index >= hole_to_index {
                if let Some(dst) = self.slots.get_mut(hole) {
                    dst.entry = Some(entry);
                }
                if let Some(src) = self.slots.get_mut(index) {
                    src.entry = None;
                }
                hole = index;
            }
            index = self.next_index(index);
        }
    }

    /// The index of the slot holding `key`, for tests of the layout.
    #[cfg(test)]
    fn index_of(&self, key: &DemuxKey) -> Option<usize> {
        match self.probe(key, key.hash(&self.key)) {
            Probe::Found(index) => Some(index),
            _ => None,
        }
    }

    /// Checks the table's invariant: every entry is reachable from its home
    /// (no empty slot between them), and `len` counts the entries.
    #[cfg(test)]
    fn check_invariants(&self) {
        let capacity = self.slots.len();
        let mut count = 0;
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(entry) = slot.entry else { continue };
            count += 1;
            assert_eq!(
                entry.hash,
                entry.key.hash(&self.key),
                "stale hash at {index}"
            );
            let mut at = self.home(entry.hash);
            while at != index {
                assert!(
                    self.slots[at].entry.is_some(),
                    "gap at {at} before entry at {index}"
                );
                at = (at + 1) % capacity;
            }
        }
        assert_eq!(count, self.len);
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

    /// A table on leaked borrowed storage, so the tests run with and
    /// without the `alloc` feature.
    fn table(n: usize, key: SipKey) -> DemuxTable<'static> {
        DemuxTable::new(vec![DemuxSlot::default(); n].leak(), key)
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_storage() {
        let mut t = DemuxTable::new(vec![DemuxSlot::default(); slots_for(4)], KEY_A);
        assert_eq!(t.capacity(), 8);
        t.insert_listener(IpListenEndpoint::from(80), 3).unwrap();
        assert_eq!(t.lookup_listener(IpAddress::v4(10, 0, 0, 1), 80), Some(3));
    }

    #[test]
    fn slots_for_doubles() {
        assert_eq!(slots_for(0), 0);
        assert_eq!(slots_for(5000), 10_000);
        assert_eq!(DemuxTable::slots_for(7), 14);
        assert_eq!(slots_for(usize::MAX), usize::MAX);
    }

    #[test]
    fn key_encoding_is_unambiguous() {
        let conn = DemuxKey::Connection {
            local: ep(10, 0, 0, 1, 80),
            remote: ep(10, 0, 0, 2, 1234),
        };
        let mut w = KeyWriter::new(TAG_CONNECTION);
        w.put_addr(&IpAddress::v4(10, 0, 0, 1));
        assert_eq!(w.as_slice(), &[1, 4, 10, 0, 0, 1]);
        // Swapping the ends is a different connection.
        let swapped = DemuxKey::Connection {
            local: ep(10, 0, 0, 2, 1234),
            remote: ep(10, 0, 0, 1, 80),
        };
        assert_ne!(conn.hash(&KEY_A), swapped.hash(&KEY_A));
        let exact = DemuxKey::Listener {
            addr: Some(IpAddress::v4(0, 0, 0, 0)),
            port: 80,
        };
        let any = DemuxKey::Listener {
            addr: None,
            port: 80,
        };
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
        let mut storage: [DemuxSlot; 0] = [];
        let mut t = DemuxTable::new(&mut storage[..], KEY_A);
        assert_eq!(t.capacity(), 0);
        let (l, r) = (ep(10, 0, 0, 1, 80), ep(10, 0, 0, 2, 5000));
        assert_eq!(t.insert_connection(l, r, 0), Err(DemuxError::Full));
        assert_eq!(t.lookup_connection(l, r), None);
        assert_eq!(t.remove_connection(l, r), None);
        assert_eq!(t.lookup_listener(l.addr, 80), None);
    }

    #[test]
    fn borrowed_storage_is_reset() {
        let mut storage: [DemuxSlot; 16] = Default::default();
        {
            let mut t = DemuxTable::new(&mut storage[..], KEY_A);
            t.insert_listener(IpListenEndpoint::from(80), 1).unwrap();
        }
        let t = DemuxTable::new(&mut storage[..], KEY_A);
        assert!(t.is_empty());
        assert_eq!(t.lookup_listener(IpAddress::v4(10, 0, 0, 1), 80), None);
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
            let key = DemuxKey::Connection {
                local: l,
                remote: r,
            };
            if t.home(key.hash(&KEY_A)) == capacity - 1 && !at_end.contains(&(l, r)) {
                at_end.push((l, r));
            }
        }
        for (i, &(l, r)) in at_end.iter().enumerate() {
            t.insert_connection(l, r, i).unwrap();
        }
        let idx = |t: &DemuxTable, (l, r): (IpEndpoint, IpEndpoint)| {
            t.index_of(&DemuxKey::Connection {
                local: l,
                remote: r,
            })
        };
        assert_eq!(idx(&t, at_end[0]), Some(7));
        assert_eq!(idx(&t, at_end[1]), Some(0));
        assert_eq!(idx(&t, at_end[2]), Some(1));
        assert_eq!(t.remove_connection(at_end[0].0, at_end[0].1), Some(0));
        assert_eq!(idx(&t, at_end[1]), Some(7));
        assert_eq!(idx(&t, at_end[2]), Some(0));
        assert!(t.slots[1].entry.is_none());
        t.check_invariants();
    }

    /// An entry that sits at its home must not be pulled back into an
    /// earlier hole by backward shift.
    #[test]
    fn backward_shift_leaves_home_entries() {
        let capacity = 8;
        let mut t = table(capacity, KEY_A);
        let mut rng = Rng(11);
        let mut want = |home: usize, t: &DemuxTable| loop {
            let (l, r) = random_tuple(&mut rng);
            if t.home(
                DemuxKey::Connection {
                    local: l,
                    remote: r,
                }
                .hash(&KEY_A),
            ) == home
            {
                break (l, r);
            }
        };
        let a = want(2, &t);
        let b = want(3, &t);
        t.insert_connection(a.0, a.1, 0).unwrap();
        t.insert_connection(b.0, b.1, 1).unwrap();
        assert_eq!(t.remove_connection(a.0, a.1), Some(0));
        assert_eq!(
            t.index_of(&DemuxKey::Connection {
                local: b.0,
                remote: b.1
            }),
            Some(3)
        );
        assert!(t.slots[2].entry.is_none());
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
            let key = DemuxKey::Connection {
                local: l,
                remote: r,
            };
            let home_a = a.home(key.hash(&KEY_A));
            let home_b = b.home(key.hash(&KEY_B));
            assert_eq!(home_a, a_again.home(key.hash(&KEY_A)));
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
        let layout = |t: &DemuxTable| -> Vec<Option<usize>> {
            t.slots.iter().map(|s| s.entry.map(|e| e.slot)).collect()
        };
        assert_ne!(layout(&small_a), layout(&small_b));
    }
}
