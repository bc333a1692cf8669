//! A ring buffer over caller-provided storage (CONTRACT STUB: the storage
//! helper implements every body).

use managed::ManagedSlice;

/// A FIFO ring buffer of `T` over a borrowed or owned slice.
///
/// "Allocated" elements are the queued ones (from the read position);
/// "unallocated" ones are the free space after them.
#[derive(Debug)]
pub struct RingBuffer<'a, T: 'a> {
    storage: ManagedSlice<'a, T>,
    read_at: usize,
    length: usize,
}

impl<'a, T: 'a> RingBuffer<'a, T> {
    /// A ring buffer over `storage`; its capacity is the storage's length.
    pub fn new<S: Into<ManagedSlice<'a, T>>>(storage: S) -> Self {
        RingBuffer { storage: storage.into(), read_at: 0, length: 0 }
    }
    /// Total capacity.
    pub fn capacity(&self) -> usize { todo!() }
    /// Number of queued elements.
    pub fn len(&self) -> usize { todo!() }
    /// Free space (capacity - len).
    pub fn window(&self) -> usize { todo!() }
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool { todo!() }
    /// Whether no space is free.
    pub fn is_full(&self) -> bool { todo!() }
    /// Empties the buffer.
    pub fn clear(&mut self) { todo!() }
    /// The largest contiguous free slice after the queued data, handed to
    /// `f`, which returns how many elements it filled; those are enqueued.
    pub fn enqueue_many_with<'b, R, F>(&'b mut self, f: F) -> (usize, R)
    where F: FnOnce(&'b mut [T]) -> (usize, R) { let _ = f; todo!() }
    /// The largest contiguous queued slice from the read position, handed to
    /// `f`, which returns how many elements it consumed; those are dequeued.
    pub fn dequeue_many_with<'b, R, F>(&'b mut self, f: F) -> (usize, R)
    where F: FnOnce(&'b mut [T]) -> (usize, R) { let _ = f; todo!() }
    /// Up to `size` free elements starting `offset` past the queued data
    /// (contiguous, so possibly fewer), without enqueueing them.
    pub fn get_unallocated(&mut self, offset: usize, size: usize) -> &mut [T] { let _ = (offset, size); todo!() }
    /// Up to `size` queued elements starting `offset` past the read position
    /// (contiguous, so possibly fewer).
    pub fn get_allocated(&self, offset: usize, size: usize) -> &[T] { let _ = (offset, size); todo!() }
    /// Marks `count` free elements after the queued data as queued.
    pub fn enqueue_unallocated(&mut self, count: usize) { let _ = count; todo!() }
    /// Drops `count` queued elements from the front.
    pub fn dequeue_allocated(&mut self, count: usize) { let _ = count; todo!() }
}

impl<'a, T: Copy + 'a> RingBuffer<'a, T> {
    /// Copies as much of `data` as fits to the back; returns how much.
    pub fn enqueue_slice(&mut self, data: &[T]) -> usize { let _ = data; todo!() }
    /// Moves as many queued elements as fit into `data`; returns how many.
    pub fn dequeue_slice(&mut self, data: &mut [T]) -> usize { let _ = data; todo!() }
    /// Copies `data` into the free space `offset` past the queued data
    /// (wrapping), without enqueueing; returns how much was written.
    pub fn write_unallocated(&mut self, offset: usize, data: &[T]) -> usize { let _ = (offset, data); todo!() }
    /// Copies queued elements starting `offset` past the read position into
    /// `data` (wrapping), without dequeueing; returns how many.
    pub fn read_allocated(&self, offset: usize, data: &mut [T]) -> usize { let _ = (offset, data); todo!() }
}
