//! Physical layer: the [`Device`] trait, its backends and middlewares.
//!
//! A device moves whole frames of its [`Medium`]: Ethernet frames
//! (destination, source, EtherType, payload; no preamble and no FCS), or bare
//! IP packets on an IP-only link such as a TUN device. It is driven in the
//! token style: the interface asks for a token and the token lends it the
//! frame's bytes for the duration of a closure, so neither side copies into
//! an intermediate buffer and the trait itself needs neither `alloc` nor
//! `std`.
//!
//! Devices that batch (a ring shared with the kernel, one system call for
//! many frames) queue what their tokens send and hand it over in
//! [`Device::flush`], which the interface calls at the end of every poll.
//! Devices that offload work say so in [`DeviceCapabilities`] (checksums,
//! TCP segmentation) and exchange per-frame facts with the stack through
//! [`FrameMeta`] ([`RxToken::meta`], [`TxToken::set_meta`]). All of these
//! are provided methods: a device that sends each frame as its token is
//! consumed and knows nothing of offloads implements none of them.
//!
//! Backends:
//! - [`Loopback`] (with `alloc`): what is sent comes back; and
//!   [`Loopback::pair`], two [`LinkEnd`]s joined by a link with a fixed
//!   one-way delay, for two stacks on one virtual clock.
//! - `RawSocket` (Linux, feature `phy-raw-socket`): an `AF_PACKET` socket
//!   bound to an interface, with memory-mapped rings shared with the kernel
//!   (or batched `recvmmsg`/`sendmmsg`) and segmentation offload.
//! - `TunTap` (Linux, feature `phy-tuntap`): a TAP (Ethernet) or TUN (IP)
//!   interface, with the kernel's checksum and segmentation offloads
//!   through a virtio-net header when the kernel grants them.
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
mod mmsg;
#[cfg(any(
    feature = "phy-pcap",
    all(
        target_os = "linux",
        any(feature = "phy-raw-socket", feature = "phy-tuntap")
    )
))]
mod partial_checksum;
#[cfg(feature = "phy-pcap")]
pub(crate) mod pcap;
#[cfg(all(target_os = "linux", feature = "phy-raw-socket"))]
mod raw_socket;
#[cfg(all(target_os = "linux", feature = "phy-raw-socket"))]
mod ring;
#[cfg(all(
    target_os = "linux",
    any(feature = "phy-raw-socket", feature = "phy-tuntap")
))]
mod sys;
#[cfg(all(target_os = "linux", feature = "phy-tuntap"))]
mod tuntap;
#[cfg(all(
    target_os = "linux",
    any(feature = "phy-raw-socket", feature = "phy-tuntap")
))]
mod vnet;

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
pub use self::raw_socket::{
    RawSocket, RawSocketIo, RawSocketOptions, RawSocketPath, RawSocketRxToken, RawSocketStats,
    RawSocketTxToken, TpacketVersion,
};
#[cfg(all(
    target_os = "linux",
    any(feature = "phy-raw-socket", feature = "phy-tuntap")
))]
pub use self::sys::wait;
#[cfg(all(target_os = "linux", feature = "phy-tuntap"))]
pub use self::tuntap::{
    TunTap, TunTapOffloads, TunTapOptions, TunTapRxToken, TunTapStats, TunTapTxToken,
};

/// Length of an Ethernet II header: destination, source, EtherType.
pub const ETHERNET_HEADER_LEN: usize = 14;

/// What a device's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Medium {
    /// Ethernet II frames without FCS.
    #[default]
    Ethernet,
    /// Bare IP packets, the version told by the first nibble (RFC 791
    /// section 3.1, RFC 8200 section 3): a Linux TUN device, a PPP-style
    /// point-to-point link. No link-layer header, no address resolution;
    /// every packet goes to the one peer, whatever its next hop.
    Ip,
}

impl Medium {
    /// Bytes of link-layer header in front of the IP packet.
    pub const fn header_len(&self) -> usize {
        match self {
            Medium::Ethernet => ETHERNET_HEADER_LEN,
            Medium::Ip => 0,
        }
    }
}

/// TCP segmentation offload (TSO, or the kernel's GSO): the device takes a
/// TCP segment longer than the MTU and sends it as segments of the size the
/// frame's [`FrameMeta::segment_size`] gives, copying the headers, advancing
/// the sequence number and the IPv4 identification, keeping FIN and PSH for
/// the last segment, and computing every segment's checksums.
///
/// Each limit is the largest IP packet, header included, that the device
/// takes for that IP version; 0 means no segmentation for it. A device that
/// offers a limit completes the TCP checksum of what it cuts up, whatever
/// [`DeviceCapabilities::checksum`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TsoCapabilities {
    /// Largest IPv4 packet carrying one TCP super-segment (at most 65,535,
    /// the IPv4 total length field's limit).
    pub ipv4_max_len: usize,
    /// Largest IPv6 packet carrying one TCP super-segment (TSO6). No
    /// backend offers it yet: the stack does not send IPv6.
    pub ipv6_max_len: usize,
}

impl TsoCapabilities {
    /// No segmentation offload.
    pub const NONE: TsoCapabilities = TsoCapabilities {
        ipv4_max_len: 0,
        ipv6_max_len: 0,
    };

    /// Segmentation of IPv4 TCP packets of up to `max_len` bytes.
    pub const fn ipv4(max_len: usize) -> TsoCapabilities {
        TsoCapabilities {
            ipv4_max_len: max_len,
            ipv6_max_len: 0,
        }
    }
}

/// What a device knows about a received frame's transport (TCP/UDP)
/// checksum, or what the stack left to the device in a frame it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransportChecksum {
    /// Received: nothing is known, software verifies as
    /// [`DeviceCapabilities::checksum`] says. Sent: the stack wrote the
    /// checksum (or left it to a device that completes every one).
    #[default]
    Unknown,
    /// Received: the device (or the kernel behind it) verified it.
    Valid,
    /// Received: the sender is the local kernel, which left the checksum
    /// for hardware to fill (Linux's `CHECKSUM_PARTIAL`): the field holds
    /// only the pseudo-header sum and the bytes never crossed a wire, so
    /// there is nothing to verify. Sent: the stack did not compute the TCP
    /// checksum (the field is zero) and the device must.
    Partial,
}

/// Per-frame facts a device and the stack exchange: on receive through
/// [`RxToken::meta`], on transmit through [`TxToken::set_meta`]. The
/// default says nothing: a whole, unverified frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameMeta {
    /// The transport checksum's state.
    pub checksum: TransportChecksum,
    /// Sent: the frame holds one TCP segment whose payload the device
    /// cuts into segments of this many bytes (TSO, see
    /// [`TsoCapabilities`]); 0: send as it is. Received: the size of the
    /// segments the kernel merged into this frame (GRO), 0 if unknown.
    pub segment_size: u16,
}

impl FrameMeta {
    /// Facts about a frame's checksum and segmentation.
    pub const fn new(checksum: TransportChecksum, segment_size: u16) -> FrameMeta {
        FrameMeta {
            checksum,
            segment_size,
        }
    }

    /// Whether the software must verify the received frame's transport
    /// checksum (given that the capabilities ask for it).
    pub const fn needs_verification(&self) -> bool {
        matches!(self.checksum, TransportChecksum::Unknown)
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
    /// device does. A received frame whose [`RxToken::meta`] says the
    /// device verified its transport checksum is not verified again.
    pub checksum: ChecksumCapabilities,
    /// TCP segmentation offload: how long a segment the device takes and
    /// cuts up. The TCP sockets then send segments of several MSS.
    pub tso: TsoCapabilities,
}

impl Default for DeviceCapabilities {
    /// Ethernet, an MTU of 1500 (the Ethernet II payload limit), no burst
    /// limit, every checksum in software, no segmentation offload.
    fn default() -> Self {
        DeviceCapabilities {
            medium: Medium::Ethernet,
            max_transmission_unit: 1500,
            max_burst_size: None,
            checksum: ChecksumCapabilities::default(),
            tso: TsoCapabilities::NONE,
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

    /// Largest IPv4 packet carrying TCP the stack may hand the device: the
    /// TSO limit when it exceeds the MTU, else the MTU.
    pub const fn max_tcp_ipv4_packet_len(&self) -> usize {
        if self.tso.ipv4_max_len > self.max_transmission_unit {
            self.tso.ipv4_max_len
        } else {
            self.max_transmission_unit
        }
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

    /// Hands over what tokens queued (a batching device sends its burst of
    /// frames in one system call here). The interface calls it at the end
    /// of every poll. The default does nothing: a device that sends each
    /// frame when its token is consumed needs no flush.
    fn flush(&mut self, now: Instant) {
        let _ = now;
    }
}

/// Permission to read one received frame.
pub trait RxToken {
    /// Calls `f` with the frame's bytes and returns what it returns.
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R;

    /// What the device knows about the frame (checksum verified, GRO
    /// merge). The default knows nothing.
    fn meta(&self) -> FrameMeta {
        FrameMeta::default()
    }
}

/// Permission to send one frame.
pub trait TxToken {
    /// Calls `f` with a zeroed buffer of exactly `len` bytes to fill with the
    /// frame, then sends it. A backend that cannot carry `len` bytes still
    /// calls `f` (so the caller's bookkeeping runs) and drops the frame,
    /// counting it; it never panics.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;

    /// Tells the device, before `consume`, what it must do to the frame:
    /// complete its TCP checksum, cut it into segments. The stack asks only
    /// for what [`Device::capabilities`] offers. The default ignores it.
    fn set_meta(&mut self, meta: FrameMeta) {
        let _ = meta;
    }
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
        assert_eq!(caps.tso, TsoCapabilities::NONE);
        assert_eq!(caps.max_tcp_ipv4_packet_len(), 1500);
    }

    #[test]
    fn ip_medium_has_no_header() {
        let caps = DeviceCapabilities {
            medium: Medium::Ip,
            ..DeviceCapabilities::default()
        };
        assert_eq!(caps.max_frame_len(), 1500);
    }

    #[test]
    fn tso_limit_only_counts_above_the_mtu() {
        let mut caps = DeviceCapabilities {
            tso: TsoCapabilities::ipv4(65_535),
            ..DeviceCapabilities::default()
        };
        assert_eq!(caps.max_tcp_ipv4_packet_len(), 65_535);
        caps.tso = TsoCapabilities::ipv4(1000);
        assert_eq!(caps.max_tcp_ipv4_packet_len(), 1500);
        assert!(FrameMeta::default().needs_verification());
        assert!(!FrameMeta::new(TransportChecksum::Partial, 0).needs_verification());
        assert!(!FrameMeta::new(TransportChecksum::Valid, 1448).needs_verification());
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
