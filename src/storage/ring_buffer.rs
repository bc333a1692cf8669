//! A ring buffer over caller-provided storage.
//!
//! Positions never jump: the free space keeps its place after the queued
//! data even when the buffer drains, so bytes written out of order with
//! [`RingBuffer::write_unallocated`] (TCP's reassembly of segments past a
//! hole) survive until [`RingBuffer::enqueue_unallocated`] claims them.

use managed::ManagedSlice;

/// A FIFO ring buffer of `T` over a borrowed or owned slice.
///
/// "Allocated" elements are the queued ones (from the read position);
/// "unallocated" ones are the free space after them. Every count and offset
/// a caller passes is clamped to what exists, so no call panics.
#[derive(Debug)]
pub struct RingBuffer<'a, T: 'a> {
    storage: ManagedSlice<'a, T>,
    read_at: usize,
    length: usize,
}

impl<'a, T: 'a> RingBuffer<'a, T> {
    /// A ring buffer over `storage`; its capacity is the storage's length.
    pub fn new<S: Into<ManagedSlice<'a, T>>>(storage: S) -> Self {
        RingBuffer {
            storage: storage.into(),
            read_at: 0,
            length: 0,
        }
    }

    /// Total capacity.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Number of queued elements.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Free space (capacity - len).
    pub fn window(&self) -> usize {
        self.capacity() - self.length
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Whether no space is free.
    pub fn is_full(&self) -> bool {
        self.window() == 0
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.read_at = 0;
        self.length = 0;
    }

    /// The storage index `offset` elements past the read position, for
    /// `offset <= capacity` (so one subtraction is enough to wrap).
    fn index(&self, offset: usize) -> usize {
        let capacity = self.capacity();
        let index = self.read_at + offset;
        if index >= capacity {
            index - capacity
        } else {
            index
        }
    }

    /// Start and length of the contiguous run of up to `size` elements
    /// beginning `offset` past the read position, where `offset + size`
    /// stays within capacity.
    fn contiguous(&self, offset: usize, size: usize) -> (usize, usize) {
        let start = self.index(offset);
        (start, size.min(self.capacity() - start))
    }

    /// The number of free elements contiguous after the queued data: up to
    /// the end of storage, or to the read position when the free space
    /// does not wrap.
    pub fn contiguous_window(&self) -> usize {
        self.contiguous(self.length, self.window()).1
    }

    /// The largest contiguous free slice after the queued data, handed to
    /// `f`, which returns how many elements it filled; those are enqueued
    /// (a count larger than the slice is clamped to it).
    pub fn enqueue_many_with<'b, R, F>(&'b mut self, f: F) -> (usize, R)
    where
        F: FnOnce(&'b mut [T]) -> (usize, R),
    {
        let (start, len) = self.contiguous(self.length, self.window());
        let (filled, result) = f(&mut self.storage[start..start + len]);
        let filled = filled.min(len);
        self.length += filled;
        (filled, result)
    }

    /// The largest contiguous queued slice from the read position, handed to
    /// `f`, which returns how many elements it consumed; those are dequeued
    /// (a count larger than the slice is clamped to it).
    pub fn dequeue_many_with<'b, R, F>(&'b mut self, f: F) -> (usize, R)
    where
        F: FnOnce(&'b mut [T]) -> (usize, R),
    {
        let capacity = self.capacity();
        let (start, len) = self.contiguous(0, self.length);
        let (consumed, result) = f(&mut self.storage[start..start + len]);
        let consumed = consumed.min(len);
        // The run ends at or before the end of storage, so at most one wrap
        // (to index 0) happens; `self` is still lent to `f`'s slice, hence
        // the captured capacity.
        let next = start + consumed;
        self.read_at = if next >= capacity { 0 } else { next };
        self.length -= consumed;
        (consumed, result)
    }

    /// Up to `size` free elements starting `offset` past the queued data
    /// (contiguous, so possibly fewer), without enqueueing them.
    pub fn get_unallocated(&mut self, offset: usize, size: usize) -> &mut [T] {
        let window = self.window();
        if offset >= window {
            return &mut [];
        }
        let size = size.min(window - offset);
        let (start, len) = self.contiguous(self.length + offset, size);
        &mut self.storage[start..start + len]
    }

    /// Up to `size` queued elements starting `offset` past the read position
    /// (contiguous, so possibly fewer).
    pub fn get_allocated(&self, offset: usize, size: usize) -> &[T] {
        if offset >= self.length {
            return &[];
        }
        let size = size.min(self.length - offset);
        let (start, len) = self.contiguous(offset, size);
        &self.storage[start..start + len]
    }

    /// Marks `count` free elements after the queued data as queued (at most
    /// the free space).
    pub fn enqueue_unallocated(&mut self, count: usize) {
        self.length += count.min(self.window());
    }

    /// Drops `count` queued elements from the front (at most all of them).
    pub fn dequeue_allocated(&mut self, count: usize) {
        let count = count.min(self.length);
        self.read_at = self.index(count);
        self.length -= count;
    }
}

impl<'a, T: Copy + 'a> RingBuffer<'a, T> {
    /// Copies as much of `data` as fits to the back; returns how much.
    pub fn enqueue_slice(&mut self, data: &[T]) -> usize {
        let written = self.write_unallocated(0, data);
        self.enqueue_unallocated(written);
        written
    }

    /// Moves as many queued elements as fit into `data`; returns how many.
    pub fn dequeue_slice(&mut self, data: &mut [T]) -> usize {
        let read = self.read_allocated(0, data);
        self.dequeue_allocated(read);
        read
    }

    /// Copies `data` into the free space `offset` past the queued data
    /// (wrapping), without enqueueing; returns how much was written.
    pub fn write_unallocated(&mut self, offset: usize, data: &[T]) -> usize {
        let mut written = 0;
        // At most two runs: up to the end of storage, then from its start.
        for _ in 0..2 {
            let Some(rest) = data.get(written..) else {
                break;
            };
            let dst = self.get_unallocated(offset.saturating_add(written), rest.len());
            if dst.is_empty() {
                break;
            }
            let n = dst.len();
            dst.copy_from_slice(&rest[..n]);
            written += n;
        }
        written
    }

    /// Copies queued elements starting `offset` past the read position into
    /// `data` (wrapping), without dequeueing; returns how many.
    pub fn read_allocated(&self, offset: usize, data: &mut [T]) -> usize {
        let mut read = 0;
        for _ in 0..2 {
            let Some(rest) = data.get_mut(read..) else {
                break;
            };
            let src = self.get_allocated(offset.saturating_add(read), rest.len());
            if src.is_empty() {
                break;
            }
            let n = src.len();
            rest[..n].copy_from_slice(src);
            read += n;
        }
        read
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn queued(ring: &RingBuffer<u8>) -> Vec<u8> {
        let mut out = vec![0u8; ring.len()];
        assert_eq!(ring.read_allocated(0, &mut out), ring.len());
        out
    }

    #[test]
    fn empty_and_full() {
        let mut ring = RingBuffer::new(vec![0u8; 4]);
        assert_eq!((ring.capacity(), ring.len(), ring.window()), (4, 0, 4));
        assert!(ring.is_empty() && !ring.is_full());
        assert_eq!(ring.enqueue_slice(b"abcdef"), 4);
        assert!(ring.is_full() && !ring.is_empty());
        assert_eq!((ring.len(), ring.window()), (4, 0));
        assert_eq!(ring.enqueue_slice(b"x"), 0);
        let mut out = [0u8; 8];
        assert_eq!(ring.dequeue_slice(&mut out), 4);
        assert_eq!(&out[..4], b"abcd");
        assert!(ring.is_empty());
        assert_eq!(ring.dequeue_slice(&mut out), 0);
    }

    #[test]
    fn contents_across_wraps() {
        let mut ring = RingBuffer::new(vec![0u8; 5]);
        assert_eq!(ring.enqueue_slice(b"abc"), 3);
        let mut out = [0u8; 2];
        assert_eq!(ring.dequeue_slice(&mut out), 2);
        assert_eq!(&out, b"ab");
        // read_at = 2, queued "c"; "defg" wraps: d,e at 3..5, f,g at 0..2.
        assert_eq!(ring.enqueue_slice(b"defgh"), 4);
        assert_eq!(queued(&ring), b"cdefg");
        assert_eq!(&ring.storage[..], b"fgcde");
        let mut out = [0u8; 5];
        assert_eq!(ring.dequeue_slice(&mut out), 5);
        assert_eq!(&out, b"cdefg");
        // Many rounds of odd-sized traffic keep the byte stream intact.
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        for round in 0..200usize {
            let chunk: Vec<u8> = (0..(round % 4 + 1))
                .map(|i| next_in.wrapping_add(i as u8))
                .collect();
            let n = ring.enqueue_slice(&chunk);
            next_in = next_in.wrapping_add(n as u8);
            let mut out = vec![0u8; round % 3 + 1];
            let m = ring.dequeue_slice(&mut out);
            for byte in &out[..m] {
                assert_eq!(*byte, next_out);
                next_out = next_out.wrapping_add(1);
            }
        }
    }

    #[test]
    fn contiguous_views_stop_at_the_wrap() {
        let mut ring = RingBuffer::new(vec![0u8; 6]);
        ring.enqueue_slice(b"abcd");
        ring.dequeue_allocated(3);
        // read_at = 3, queued "d" at 3; free space 4..6 then 0..3.
        assert_eq!(ring.get_unallocated(0, 10).len(), 2);
        assert_eq!(ring.get_unallocated(2, 10).len(), 3);
        assert_eq!(ring.get_unallocated(1, 2).len(), 1);
        let (n, ()) = ring.enqueue_many_with(|buf| {
            assert_eq!(buf.len(), 2);
            buf.copy_from_slice(b"ef");
            (2, ())
        });
        assert_eq!(n, 2);
        let (n, ()) = ring.enqueue_many_with(|buf| {
            assert_eq!(buf.len(), 3);
            buf[0] = b'g';
            (1, ())
        });
        assert_eq!(n, 1);
        assert_eq!(queued(&ring), b"defg");
        assert_eq!(ring.get_allocated(0, 10), b"def");
        assert_eq!(ring.get_allocated(3, 10), b"g");
        assert_eq!(ring.get_allocated(1, 1), b"e");
        let (n, first) = ring.dequeue_many_with(|buf| (buf.len(), buf[0]));
        assert_eq!((n, first), (3, b'd'));
        let (n, rest) = ring.dequeue_many_with(|buf| (buf.len(), buf.to_vec()));
        assert_eq!((n, rest), (1, b"g".to_vec()));
        assert!(ring.is_empty());
    }

    #[test]
    fn contiguous_window_stops_at_the_end_or_the_reader() {
        let mut ring = RingBuffer::new(vec![0u8; 6]);
        assert_eq!(ring.contiguous_window(), 6);
        ring.enqueue_slice(b"abcd");
        assert_eq!(ring.contiguous_window(), 2);
        ring.dequeue_allocated(3);
        // Free: 4..6 then 0..3; only the first run is contiguous.
        assert_eq!((ring.window(), ring.contiguous_window()), (5, 2));
        ring.enqueue_slice(b"efg");
        // Queued d,e,f at 3..6 and g at 0; free 1..3 up to the reader.
        assert_eq!((ring.window(), ring.contiguous_window()), (2, 2));
        let mut empty: RingBuffer<u8> = RingBuffer::new(vec![]);
        assert_eq!(empty.contiguous_window(), 0);
        empty.clear();
    }

    #[test]
    fn closure_counts_are_clamped() {
        let mut ring = RingBuffer::new(vec![0u8; 3]);
        let (n, ()) = ring.enqueue_many_with(|buf| (buf.len() + 10, ()));
        assert_eq!((n, ring.len()), (3, 3));
        let (n, ()) = ring.dequeue_many_with(|buf| (buf.len() + 10, ()));
        assert_eq!((n, ring.len()), (3, 0));
    }

    #[test]
    fn zero_capacity() {
        let mut ring: RingBuffer<u8> = RingBuffer::new(vec![]);
        assert_eq!((ring.capacity(), ring.len(), ring.window()), (0, 0, 0));
        assert!(ring.is_empty() && ring.is_full());
        assert_eq!(ring.enqueue_slice(b"abc"), 0);
        assert_eq!(ring.dequeue_slice(&mut [0u8; 3]), 0);
        assert_eq!(ring.write_unallocated(0, b"abc"), 0);
        assert_eq!(ring.read_allocated(0, &mut [0u8; 3]), 0);
        assert!(ring.get_unallocated(0, 3).is_empty());
        assert!(ring.get_allocated(0, 3).is_empty());
        assert_eq!(ring.enqueue_many_with(|buf| (buf.len(), ())).0, 0);
        assert_eq!(ring.dequeue_many_with(|buf| (buf.len(), ())).0, 0);
        ring.enqueue_unallocated(5);
        ring.dequeue_allocated(5);
        assert_eq!(ring.len(), 0);
        let mut empty: [u8; 0] = [];
        let mut borrowed = RingBuffer::new(&mut empty[..]);
        assert_eq!(borrowed.enqueue_slice(b"a"), 0);
    }

    #[test]
    fn offsets_past_the_end_are_clamped() {
        let mut ring = RingBuffer::new(vec![0u8; 4]);
        ring.enqueue_slice(b"ab");
        assert!(ring.get_unallocated(2, 1).is_empty());
        assert!(ring.get_unallocated(usize::MAX, usize::MAX).is_empty());
        assert_eq!(ring.get_unallocated(1, usize::MAX).len(), 1);
        assert!(ring.get_allocated(2, 1).is_empty());
        assert!(ring.get_allocated(usize::MAX, usize::MAX).is_empty());
        assert_eq!(ring.get_allocated(1, usize::MAX), b"b");
        assert_eq!(ring.write_unallocated(usize::MAX, b"zz"), 0);
        assert_eq!(ring.write_unallocated(1, b"xyz"), 1);
        assert_eq!(ring.read_allocated(usize::MAX, &mut [0u8; 2]), 0);
        ring.enqueue_unallocated(usize::MAX);
        assert_eq!(queued(&ring), [b'a', b'b', 0, b'x']);
        ring.dequeue_allocated(usize::MAX);
        assert!(ring.is_empty());
    }

    #[test]
    fn out_of_order_writes_then_enqueue() {
        let mut ring = RingBuffer::new(vec![0u8; 8]);
        ring.enqueue_slice(b"012345");
        ring.dequeue_allocated(5);
        // read_at = 5, queued "5"; free space 6,7,0..5 (7 elements).
        // A segment 2 bytes ahead of the queued data, wrapping the end.
        assert_eq!(ring.write_unallocated(2, b"89ab"), 4);
        // Draining the queue must not move the free space.
        assert_eq!(ring.dequeue_slice(&mut [0u8; 1]), 1);
        assert_eq!(ring.write_unallocated(0, b"67"), 2);
        ring.enqueue_unallocated(6);
        assert_eq!(queued(&ring), b"6789ab");
        let mut peek = [0u8; 3];
        assert_eq!(ring.read_allocated(1, &mut peek), 3);
        assert_eq!(&peek, b"789");
        assert_eq!(ring.read_allocated(4, &mut peek), 2);
        assert_eq!(&peek[..2], b"ab");
    }

    #[test]
    fn clear_resets() {
        let mut ring = RingBuffer::new(vec![0u8; 4]);
        ring.enqueue_slice(b"abc");
        ring.dequeue_allocated(2);
        ring.clear();
        assert!(ring.is_empty());
        assert_eq!(ring.get_unallocated(0, 4).len(), 4);
    }
}
