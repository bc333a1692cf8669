//! Physical layer: the [`Device`] trait, its backends and middlewares.
//!
//! A device moves whole Ethernet frames (destination, source, EtherType,
//! payload; no preamble and no FCS). It is driven in the token style: the
//! interface asks for a token and the token lends it the frame's bytes for the
//! duration of a closure, so neither side copies into an intermediate buffer
//! and the trait itself needs neither `alloc` nor `std`.
//!
//! Backends:
//! - [`Loopback`] (with `alloc`): what is sent comes back; and
//!   [`Loopback::pair`], two [`LinkEnd`]s joined by a link with a fixed
//!   one-way delay, for two stacks on one virtual clock.
//! - `RawSocket` (Linux, feature `phy-raw-socket`): an `AF_PACKET` socket
//!   bound to an interface.
//! - `TunTap` (Linux, feature `phy-tuntap`): a TAP interface.
//! - `PcapReplay` (feature `phy-pcap`): the frames of a capture, at their
//!   captured times.
//!
//! Middlewares wrap any device: `PcapWriter` (feature `phy-pcap`) records
//! both directions to a pcap file; [`FaultInjector`] (with `alloc`) drops,
//! duplicates, reorders, corrupts and rate-limits frames, seeded.
//!
//! Time enters only as the `now` given to [`Device::receive`] and
//! [`Device::transmit`]: no device here reads a clock, so a virtual clock
//! drives every device the same way as a real one.

use crate::time::Instant;

pub use crate::wire::{Checksum, ChecksumCapabilities};

#[cfg(feature = "alloc")]
mod fault_injector;
#[cfg(feature = "alloc")]
mod loopback;
#[cfg(all(target_os = "linux", feature = "phy-raw-socket"))]
mod partial_checksum;
#[cfg(feature = "phy-pcap")]
mod pcap;
#[cfg(all(target_os = "linux", feature = "phy-raw-socket"))]
mod raw_socket;
#[cfg(all(
    target_os = "linux",
    any(feature = "phy-raw-socket", feature = "phy-tuntap")
))]
mod sys;
#[cfg(all(target_os = "linux", feature = "phy-tuntap"))]
mod tuntap;

#[cfg(feature = "alloc")]
pub use self::fault_injector::{
    FaultConfig, FaultInjector, FaultInjectorRxToken, FaultInjectorTxToken, FaultStats,
    Probability, RateLimit, Reorder, SplitMix64, TX_SEED_XOR,
};
#[cfg(feature = "alloc")]
pub use self::loopback::{
    DEFAULT_QUEUE_LIMIT, LinkEnd, LinkRxToken, LinkStats, LinkTxToken, Loopback, LoopbackRxToken,
    LoopbackTxToken,
};
#[cfg(feature = "phy-pcap")]
pub use self::pcap::{
    PCAP_SNAPLEN, PcapDirection, PcapReplay, PcapReplayError, PcapReplayRxToken, PcapReplayTxToken,
    PcapWriter, PcapWriterRxToken, PcapWriterTxToken, RecordedFrame,
};
#[cfg(all(target_os = "linux", feature = "phy-raw-socket"))]
pub use self::raw_socket::{RawSocket, RawSocketRxToken, RawSocketStats, RawSocketTxToken};
#[cfg(all(
    target_os = "linux",
    any(feature = "phy-raw-socket", feature = "phy-tuntap")
))]
pub use self::sys::wait;
#[cfg(all(target_os = "linux", feature = "phy-tuntap"))]
pub use self::tuntap::{TunTap, TunTapRxToken, TunTapStats, TunTapTxToken};

/// Length of an Ethernet II header: destination, source, EtherType.
pub const ETHERNET_HEADER_LEN: usize = 14;

/// What a device's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Medium {
    /// Ethernet II frames without FCS. (IP-only media, as on a TUN device,
    /// may be added later.)
    #[default]
    Ethernet,
}

impl Medium {
    /// Bytes of link-layer header in front of the IP packet.
    pub const fn header_len(&self) -> usize {
        match self {
            Medium::Ethernet => ETHERNET_HEADER_LEN,
        }
    }
}

/// What a device can do, as the interface needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceCapabilities {
    /// What the frames carry.
    pub medium: Medium,
    /// Largest IP packet the device carries (the IP MTU, e.g. 1500). A frame
    /// is at most `max_transmission_unit` plus the medium's header
    /// (see [`DeviceCapabilities::max_frame_len`]).
    pub max_transmission_unit: usize,
    /// How many frames the device accepts or hands over in one burst before
    /// the interface should yield, if it has such a limit.
    pub max_burst_size: Option<usize>,
    /// Which checksums software must verify and compute; the rest the
    /// device does.
    pub checksum: ChecksumCapabilities,
}

impl Default for DeviceCapabilities {
    /// Ethernet, an MTU of 1500 (the Ethernet II payload limit), no burst
    /// limit, every checksum in software.
    fn default() -> Self {
        DeviceCapabilities {
            medium: Medium::Ethernet,
            max_transmission_unit: 1500,
            max_burst_size: None,
            checksum: ChecksumCapabilities::default(),
        }
    }
}

impl DeviceCapabilities {
    /// Largest frame the device carries: the MTU plus the medium's
    /// link-layer header (14 bytes for Ethernet).
    pub const fn max_frame_len(&self) -> usize {
        self.max_transmission_unit
            .saturating_add(self.medium.header_len())
    }
}

/// A network device in the token style.
///
/// `receive` and `transmit` do not move any bytes themselves: they hand out
/// tokens, and a frame is taken or sent only when its token is consumed. A
/// token dropped unconsumed sends nothing (a TxToken) or loses the frame it
/// held (an RxToken). Tokens borrow the device, so at most one pair is alive.
pub trait Device {
    /// Token for one received frame.
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    /// Token for one frame to send.
    type TxToken<'a>: TxToken
    where
        Self: 'a;

    /// A received frame, if one is ready at `now`, together with a TxToken
    /// so a reply can be sent at once.
    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)>;

    /// A token to send one frame, if the device can take one at `now`.
    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>>;

    /// What the device can do.
    fn capabilities(&self) -> DeviceCapabilities;
}

/// Permission to read one received frame.
pub trait RxToken {
    /// Calls `f` with the frame's bytes and returns what it returns.
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R;
}

/// Permission to send one frame.
pub trait TxToken {
    /// Calls `f` with a zeroed buffer of exactly `len` bytes to fill with the
    /// frame, then sends it. A backend that cannot carry `len` bytes still
    /// calls `f` (so the caller's bookkeeping runs) and drops the frame,
    /// counting it; it never panics.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_capabilities_are_ethernet_1500() {
        let caps = DeviceCapabilities::default();
        assert_eq!(caps.medium, Medium::Ethernet);
        assert_eq!(caps.max_transmission_unit, 1500);
        assert_eq!(caps.max_frame_len(), 1514);
        assert_eq!(caps.max_burst_size, None);
        assert_eq!(caps.checksum, ChecksumCapabilities::default());
    }

    #[test]
    fn max_frame_len_saturates() {
        let caps = DeviceCapabilities {
            max_transmission_unit: usize::MAX - 3,
            ..DeviceCapabilities::default()
        };
        assert_eq!(caps.max_frame_len(), usize::MAX);
    }
}
