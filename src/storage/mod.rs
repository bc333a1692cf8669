//! Caller-chosen storage: ring buffers for socket data, datagram queues,
//! the out-of-order assembler, and the keyed hash used for ISNs and
//! demultiplexing (DESIGN.md rules 2, 5 and 6). Nothing here allocates.

mod assembler;
mod packet_buffer;
mod ring_buffer;
pub mod siphash;

pub use self::assembler::{Assembler, MAX_HOLES, TooManyHoles};
pub use self::packet_buffer::{EnqueueError, PacketBuffer, PacketMetadata};
pub use self::ring_buffer::RingBuffer;
