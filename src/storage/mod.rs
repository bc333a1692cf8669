//! Caller-chosen storage: ring buffers for socket data (borrowed slices or
//! owned vectors, so no_std builds need no allocator), datagram queues, the
//! out-of-order assembler, and the keyed hash behind ISNs and
//! demultiplexing (keyed by the interface's seed: deterministic under
//! replay, unpredictable to peers). Nothing here allocates.

mod assembler;
mod packet_buffer;
mod ring_buffer;
pub mod siphash;

pub use self::assembler::{Assembler, MAX_HOLES, TooManyHoles};
pub use self::packet_buffer::{EnqueueError, PacketBuffer, PacketMetadata};
pub use self::ring_buffer::RingBuffer;
