//! A queue of datagrams over caller-provided storage: a ring of metadata
//! entries (one per datagram, with a caller-chosen header such as the peer's
//! endpoint) and a ring of payload bytes.
//!
//! Each datagram's bytes are contiguous in the payload ring, so a reader
//! gets one slice and a writer fills one slice. A datagram that does not fit
//! between the last queued byte and the end of the storage is never split:
//! the tail is claimed by a *padding* entry and the datagram starts at the
//! beginning of the storage.

use core::fmt;

use managed::ManagedSlice;

use super::RingBuffer;

/// One metadata slot: a datagram's size and header, or padding (no header).
///
/// Storage for a [`PacketBuffer`] is a slice of these, e.g.
/// `[PacketMetadata::EMPTY; 8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMetadata<H> {
    size: usize,
    header: Option<H>,
}

impl<H> PacketMetadata<H> {
    /// An unused slot, to initialise storage with.
    pub const EMPTY: PacketMetadata<H> = PacketMetadata {
        size: 0,
        header: None,
    };

    fn padding(size: usize) -> PacketMetadata<H> {
        PacketMetadata { size, header: None }
    }

    fn datagram(size: usize, header: H) -> PacketMetadata<H> {
        PacketMetadata {
            size,
            header: Some(header),
        }
    }

    fn is_padding(&self) -> bool {
        self.header.is_none()
    }
}

/// Why [`PacketBuffer::enqueue`] refused a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueError {
    /// It does not fit now (no metadata slot, or not enough contiguous
    /// payload space); it may after the reader dequeues.
    Full,
    /// It is larger than the whole payload storage and can never fit.
    TooLarge,
}

impl fmt::Display for EnqueueError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            EnqueueError::Full => "packet buffer full",
            EnqueueError::TooLarge => "datagram larger than the packet buffer",
        })
    }
}

/// A FIFO queue of datagrams with headers of type `H`.
///
/// # Capacity
/// With `M` metadata slots and `P` payload bytes:
/// - at most `M` datagrams are queued, whatever their sizes; zero-size
///   datagrams take a slot and no payload;
/// - a datagram of `N` bytes is accepted when a slot is free and either
///   `N` bytes are free contiguously after the last queued byte, or fewer
///   are but `N` bytes are free at the start of the storage and a *second*
///   slot is free: the bytes up to the end then become a padding entry
///   until the reader passes them;
/// - when no payload byte is queued the payload ring restarts at the
///   beginning, so an `N <= P` datagram always fits an empty buffer;
/// - `N > P` is refused with [`EnqueueError::TooLarge`], anything else that
///   does not fit now with [`EnqueueError::Full`].
///
/// So a buffer of `P` bytes always holds one datagram of up to `P` bytes,
/// and may hold fewer bytes of data than `P` when padding is queued.
#[derive(Debug)]
pub struct PacketBuffer<'a, H: 'a> {
    metadata: RingBuffer<'a, PacketMetadata<H>>,
    payload: RingBuffer<'a, u8>,
    /// Datagrams queued (metadata entries that are not padding).
    datagrams: usize,
}

impl<'a, H: 'a> PacketBuffer<'a, H> {
    /// A queue over `metadata` slots and `payload` bytes.
    pub fn new<MS, PS>(metadata: MS, payload: PS) -> PacketBuffer<'a, H>
    where
        MS: Into<ManagedSlice<'a, PacketMetadata<H>>>,
        PS: Into<ManagedSlice<'a, u8>>,
    {
        PacketBuffer {
            metadata: RingBuffer::new(metadata),
            payload: RingBuffer::new(payload),
            datagrams: 0,
        }
    }

    /// The number of metadata slots: the most datagrams ever queued.
    pub fn metadata_capacity(&self) -> usize {
        self.metadata.capacity()
    }

    /// The payload storage in bytes: the largest datagram ever accepted.
    pub fn payload_capacity(&self) -> usize {
        self.payload.capacity()
    }

    /// The number of datagrams queued.
    pub fn len(&self) -> usize {
        self.datagrams
    }

    /// Whether no datagram is queued.
    pub fn is_empty(&self) -> bool {
        self.datagrams == 0
    }

    /// Whether every metadata slot is taken, so not even a zero-size
    /// datagram can be enqueued.
    pub fn is_full(&self) -> bool {
        self.metadata.is_full()
    }

    /// Payload bytes in use: queued datagrams plus any padding.
    pub fn payload_bytes_used(&self) -> usize {
        self.payload.len()
    }

    /// Drops every queued datagram.
    pub fn clear(&mut self) {
        self.metadata.clear();
        self.payload.clear();
        self.datagrams = 0;
    }

    /// Where a datagram of `size` bytes would go: `Ok(padding)` with the
    /// number of tail bytes that must become padding first (0: none).
    fn plan(&self, size: usize) -> Result<usize, EnqueueError> {
        if size > self.payload.capacity() {
            return Err(EnqueueError::TooLarge);
        }
        if self.metadata.is_full() {
            return Err(EnqueueError::Full);
        }
        if self.payload.is_empty() {
            // enqueue rewinds the empty ring: all of it is contiguous.
            return Ok(0);
        }
        let window = self.payload.window();
        // Free bytes after the last queued one, up to the end of storage or
        // the read position, whichever comes first.
        let contiguous = self.payload.contiguous_window();
        if size <= contiguous {
            Ok(0)
        } else if size <= window - contiguous && self.metadata.window() >= 2 {
            Ok(contiguous)
        } else {
            Err(EnqueueError::Full)
        }
    }

    /// Whether a datagram of `size` bytes would be accepted now.
    pub fn can_enqueue(&self, size: usize) -> bool {
        self.plan(size).is_ok()
    }

    /// Queues a datagram of `size` bytes with `header` and returns its
    /// payload slice (exactly `size` bytes, contiguous) for the caller to
    /// fill. See the type's documentation for when it fits.
    pub fn enqueue(&mut self, size: usize, header: H) -> Result<&mut [u8], EnqueueError> {
        let padding = self.plan(size)?;
        if self.payload.is_empty() {
            self.payload.clear();
        }
        if padding > 0 {
            self.push_metadata(PacketMetadata::padding(padding));
            self.payload.enqueue_unallocated(padding);
        }
        self.push_metadata(PacketMetadata::datagram(size, header));
        self.datagrams += 1;
        // `plan` made `size` bytes contiguous at the write position; the
        // closure only narrows the slice it is given.
        let (_, buf) = self.payload.enqueue_many_with(|free| {
            let n = size.min(free.len());
            (n, &mut free[..n])
        });
        Ok(buf)
    }

    /// Queues a copy of `data` with `header`.
    pub fn enqueue_slice(&mut self, data: &[u8], header: H) -> Result<(), EnqueueError> {
        self.enqueue(data.len(), header)?.copy_from_slice(data);
        Ok(())
    }

    fn push_metadata(&mut self, entry: PacketMetadata<H>) {
        // Callers checked that a slot is free.
        let slots = self.metadata.get_unallocated(0, 1);
        if let Some(slot) = slots.first_mut() {
            *slot = entry;
            self.metadata.enqueue_unallocated(1);
        }
    }

    /// Drops a padding entry at the front, if there is one.
    fn skip_padding(&mut self) {
        let front = self.metadata.get_allocated(0, 1);
        if let Some(entry) = front.first() {
            if entry.is_padding() {
                let size = entry.size;
                self.metadata.dequeue_allocated(1);
                self.payload.dequeue_allocated(size);
            }
        }
    }

    /// Removes the oldest datagram and returns its header and payload
    /// (valid until the next call that changes the buffer); `None` when
    /// empty.
    pub fn dequeue(&mut self) -> Option<(H, &mut [u8])> {
        self.skip_padding();
        // Padding was skipped, so the front entry (if any) is a datagram;
        // it is taken only then, so that its bytes always leave with it.
        let (_, entry) = self
            .metadata
            .dequeue_many_with(|slots| match slots.first_mut() {
                Some(slot) if !slot.is_padding() => (1, Some((slot.size, slot.header.take()))),
                _ => (0, None),
            });
        let (size, header) = entry?;
        let header = header?;
        self.datagrams -= 1;
        let (_, payload) = self.payload.dequeue_many_with(|queued| {
            let n = size.min(queued.len());
            (n, &mut queued[..n])
        });
        Some((header, payload))
    }

    /// The oldest datagram's header and payload without removing it; `None`
    /// when empty.
    pub fn peek(&self) -> Option<(&H, &[u8])> {
        let mut offset = 0;
        let mut index = 0;
        let entry = loop {
            let entry = self.metadata.get_allocated(index, 1).first()?;
            if !entry.is_padding() {
                break entry;
            }
            // At most one padding entry is ever queued, and a datagram
            // follows it.
            offset += entry.size;
            index += 1;
            if index > 1 {
                return None;
            }
        };
        let header = entry.header.as_ref()?;
        Some((header, self.payload.get_allocated(offset, entry.size)))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::VecDeque;
    use std::vec;
    use std::vec::Vec;

    fn buffer(slots: usize, bytes: usize) -> PacketBuffer<'static, u32> {
        PacketBuffer::new(vec![PacketMetadata::EMPTY; slots], vec![0u8; bytes])
    }

    fn push(buf: &mut PacketBuffer<u32>, header: u32, size: usize) -> Result<(), EnqueueError> {
        let data: Vec<u8> = (0..size).map(|i| (header as usize + i) as u8).collect();
        buf.enqueue_slice(&data, header)
    }

    fn pop(buf: &mut PacketBuffer<u32>) -> Option<(u32, Vec<u8>)> {
        buf.dequeue().map(|(h, p)| (h, p.to_vec()))
    }

    fn expected(header: u32, size: usize) -> Vec<u8> {
        (0..size).map(|i| (header as usize + i) as u8).collect()
    }

    #[test]
    fn full_metadata() {
        let mut buf = buffer(2, 100);
        assert!(buf.is_empty() && !buf.is_full());
        push(&mut buf, 1, 10).unwrap();
        push(&mut buf, 2, 10).unwrap();
        assert!(buf.is_full());
        assert_eq!(buf.len(), 2);
        assert_eq!(push(&mut buf, 3, 0), Err(EnqueueError::Full));
        assert!(!buf.can_enqueue(0));
        assert_eq!(pop(&mut buf), Some((1, expected(1, 10))));
        push(&mut buf, 3, 10).unwrap();
        assert_eq!(pop(&mut buf), Some((2, expected(2, 10))));
        assert_eq!(pop(&mut buf), Some((3, expected(3, 10))));
        assert_eq!(pop(&mut buf), None);
    }

    #[test]
    fn full_payload_and_too_large() {
        let mut buf = buffer(8, 10);
        assert_eq!(push(&mut buf, 1, 11), Err(EnqueueError::TooLarge));
        push(&mut buf, 1, 6).unwrap();
        assert_eq!(push(&mut buf, 2, 5), Err(EnqueueError::Full));
        push(&mut buf, 2, 4).unwrap();
        assert_eq!(buf.payload_bytes_used(), 10);
        // Zero-size datagrams need only a slot.
        push(&mut buf, 3, 0).unwrap();
        assert_eq!(push(&mut buf, 4, 1), Err(EnqueueError::Full));
        assert_eq!(buf.len(), 3);
        assert_eq!(pop(&mut buf), Some((1, expected(1, 6))));
        assert_eq!(pop(&mut buf), Some((2, expected(2, 4))));
        assert_eq!(pop(&mut buf), Some((3, vec![])));
        assert!(buf.is_empty());
        assert_eq!(buf.payload_bytes_used(), 0);
    }

    #[test]
    fn wrap_with_padding_never_splits() {
        let mut buf = buffer(4, 10);
        push(&mut buf, 1, 4).unwrap();
        push(&mut buf, 2, 4).unwrap();
        assert_eq!(pop(&mut buf), Some((1, expected(1, 4))));
        // Bytes 8..10 free at the end, 0..4 at the start: 3 bytes go to the
        // start and the 2 tail bytes become padding.
        assert!(buf.can_enqueue(3));
        push(&mut buf, 3, 3).unwrap();
        assert_eq!(buf.len(), 2);
        assert_eq!(buf.payload_bytes_used(), 4 + 2 + 3);
        // Only 1 byte free now (at 3..4).
        assert_eq!(push(&mut buf, 4, 2), Err(EnqueueError::Full));
        assert_eq!(buf.peek(), Some((&2, &expected(2, 4)[..])));
        assert_eq!(pop(&mut buf), Some((2, expected(2, 4))));
        // The padding is at the front now; peek looks past it.
        assert_eq!(buf.peek(), Some((&3, &expected(3, 3)[..])));
        assert_eq!(pop(&mut buf), Some((3, expected(3, 3))));
        assert_eq!(buf.payload_bytes_used(), 0);
        assert_eq!(buf.metadata.len(), 0);
    }

    #[test]
    fn wrap_needs_a_second_slot() {
        let mut buf = buffer(2, 10);
        push(&mut buf, 1, 4).unwrap();
        push(&mut buf, 2, 4).unwrap();
        assert_eq!(pop(&mut buf), Some((1, expected(1, 4))));
        // One slot is free, but wrapping needs one for the padding too.
        assert_eq!(push(&mut buf, 3, 3), Err(EnqueueError::Full));
        // A datagram that fits before the end needs no padding.
        push(&mut buf, 3, 2).unwrap();
        assert_eq!(pop(&mut buf), Some((2, expected(2, 4))));
        assert_eq!(pop(&mut buf), Some((3, expected(3, 2))));
    }

    #[test]
    fn exact_fit_at_the_end_needs_no_padding() {
        let mut buf = buffer(2, 10);
        push(&mut buf, 1, 6).unwrap();
        push(&mut buf, 2, 4).unwrap();
        assert_eq!(buf.payload_bytes_used(), 10);
        assert_eq!(pop(&mut buf), Some((1, expected(1, 6))));
        // The write position wrapped to 0 by itself: 6 bytes fit there.
        push(&mut buf, 3, 6).unwrap();
        assert_eq!(pop(&mut buf), Some((2, expected(2, 4))));
        assert_eq!(pop(&mut buf), Some((3, expected(3, 6))));
    }

    #[test]
    fn empty_payload_rewinds() {
        let mut buf = buffer(4, 10);
        push(&mut buf, 1, 6).unwrap();
        assert_eq!(pop(&mut buf), Some((1, expected(1, 6))));
        // Only 4 bytes remain before the end, but nothing is queued, so the
        // ring restarts and the whole capacity is contiguous.
        assert!(buf.can_enqueue(10));
        push(&mut buf, 2, 10).unwrap();
        assert_eq!(pop(&mut buf), Some((2, expected(2, 10))));
        // Zero-size datagrams queued alone still let the ring rewind.
        push(&mut buf, 3, 7).unwrap();
        push(&mut buf, 4, 0).unwrap();
        assert_eq!(pop(&mut buf), Some((3, expected(3, 7))));
        push(&mut buf, 5, 9).unwrap();
        assert_eq!(pop(&mut buf), Some((4, vec![])));
        assert_eq!(pop(&mut buf), Some((5, expected(5, 9))));
    }

    #[test]
    fn zero_capacities() {
        let mut buf = buffer(0, 10);
        assert!(buf.is_full() && buf.is_empty());
        assert_eq!(push(&mut buf, 1, 0), Err(EnqueueError::Full));
        assert_eq!(pop(&mut buf), None);
        let mut buf = buffer(2, 0);
        push(&mut buf, 1, 0).unwrap();
        assert_eq!(push(&mut buf, 2, 1), Err(EnqueueError::TooLarge));
        assert_eq!(buf.peek(), Some((&1, &[][..])));
        assert_eq!(pop(&mut buf), Some((1, vec![])));
        let mut meta: [PacketMetadata<u32>; 1] = [PacketMetadata::EMPTY];
        let mut bytes = [0u8; 4];
        let mut borrowed = PacketBuffer::new(&mut meta[..], &mut bytes[..]);
        borrowed.enqueue_slice(b"abcd", 9).unwrap();
        assert_eq!(
            borrowed.dequeue().map(|(h, p)| (h, p.to_vec())),
            Some((9, b"abcd".to_vec()))
        );
    }

    #[test]
    fn clear_drops_everything() {
        let mut buf = buffer(4, 10);
        push(&mut buf, 1, 4).unwrap();
        push(&mut buf, 2, 4).unwrap();
        pop(&mut buf);
        push(&mut buf, 3, 3).unwrap();
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.payload_bytes_used(), 0);
        assert_eq!(buf.peek(), None);
        push(&mut buf, 4, 10).unwrap();
        assert_eq!(pop(&mut buf), Some((4, expected(4, 10))));
    }

    /// xorshift64*: deterministic operation sequences.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_traffic_keeps_fifo_order_and_contents() {
        let mut rng = Rng(0xdead_beef);
        for (slots, bytes) in [(1, 7), (3, 16), (8, 50), (16, 64)] {
            let mut buf = buffer(slots, bytes);
            let mut model: VecDeque<(u32, usize)> = VecDeque::new();
            let mut next = 0u32;
            let (mut accepted, mut wrapped) = (0, 0);
            for _ in 0..5000 {
                if rng.next() % 3 != 0 {
                    let size = (rng.next() % (bytes as u64 + 2)) as usize;
                    let can = buf.can_enqueue(size);
                    let used_before = buf.payload_bytes_used();
                    match push(&mut buf, next, size) {
                        Ok(()) => {
                            assert!(can);
                            // Padding shows as more bytes used than the datagram.
                            if buf.payload_bytes_used() > used_before + size {
                                wrapped += 1;
                            }
                            model.push_back((next, size));
                            accepted += 1;
                        }
                        Err(EnqueueError::TooLarge) => assert!(size > bytes && !can),
                        Err(EnqueueError::Full) => {
                            assert!(!can);
                            // An empty buffer with a slot takes anything
                            // that is not too large.
                            assert!(!(model.is_empty() && slots > 0));
                        }
                    }
                    next += 1;
                } else {
                    let want = model.front().map(|&(h, s)| (h, expected(h, s)));
                    assert_eq!(buf.peek().map(|(h, p)| (*h, p.to_vec())), want);
                    assert_eq!(pop(&mut buf), want);
                    model.pop_front();
                }
                assert_eq!(buf.len(), model.len());
                let queued: usize = model.iter().map(|&(_, s)| s).sum();
                assert!(buf.payload_bytes_used() >= queued);
                assert!(buf.payload_bytes_used() <= bytes);
            }
            assert!(accepted > 1000, "{slots}/{bytes}: {accepted}");
            if slots > 1 {
                assert!(wrapped > 0, "{slots}/{bytes}: never wrapped");
            }
        }
    }
}
