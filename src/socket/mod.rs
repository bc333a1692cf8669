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
    /// Counters the socket increments (segments, retransmissions, RSTs).
    pub stats: tcp::TcpStats,
}

impl Context {
    /// A context at `now` with `isn` and an IP MTU of 1500.
    pub fn new(now: Instant, isn: tcp::IsnGenerator) -> Context {
        Context {
            now,
            isn,
            ip_mtu: 1500,
            stats: tcp::TcpStats::default(),
        }
    }
}
