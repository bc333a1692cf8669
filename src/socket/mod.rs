//! Sockets: sans-IO protocol state machines driven by the interface.
//!
//! A socket never sees a device, Ethernet or ARP. The interface hands it
//! `(now, segment)` through a [`Context`] and asks it for segments to send.

mod set;
pub mod tcp;

pub use self::set::{ChildBuffers, SetFull, SocketHandle, SocketSet, SocketStorage};

use crate::time::Instant;

/// When a socket next needs the interface's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PollAt {
    /// Now: it has something to send.
    Now,
    /// At this instant (a timer).
    Time(Instant),
    /// Only when a segment arrives.
    Ingress,
}

/// What the interface lends a socket for one call: the time, the ISN
/// generator, the path MTU, and counters the socket adds to.
#[derive(Debug)]
pub struct Context {
    /// The current time on the caller's clock.
    pub now: Instant,
    /// Generates initial sequence numbers (RFC 9293 section 3.4.1).
    pub isn: tcp::IsnGenerator,
    /// Largest IP packet on the path out; the MSS derives from it.
    pub ip_mtu: usize,
    /// Largest IP packet the device takes and cuts into MSS-sized segments
    /// (TCP segmentation offload); not above `ip_mtu`: none. With it, a
    /// socket sends super-segments of several MSS.
    pub tso_max_len: usize,
    /// Set by a TCP socket's `dispatch` for the segment it hands to its
    /// emit closure: the payload of each segment the device is to cut that
    /// super-segment into, or 0 for a plain segment.
    pub segment_size: u16,
    /// Counters the socket increments (segments, retransmissions, RSTs).
    pub stats: tcp::TcpStats,
    /// Set by a TCP socket when a segment it processed acknowledged new
    /// data: forward progress, which the interface passes to its neighbor
    /// cache as upper-layer advice that the next hop is reachable (RFC 4861
    /// section 7.3.1, RFC 1122 section 2.3.2.1). The interface clears it
    /// before each segment; sockets only ever set it.
    pub forward_progress: bool,
}

impl Context {
    /// A context at `now` with `isn`, an IP MTU of 1500 and no
    /// segmentation offload.
    pub fn new(now: Instant, isn: tcp::IsnGenerator) -> Context {
        Context {
            now,
            isn,
            ip_mtu: 1500,
            tso_max_len: 0,
            segment_size: 0,
            stats: tcp::TcpStats::default(),
            forward_progress: false,
        }
    }
}
