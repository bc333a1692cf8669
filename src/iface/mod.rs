//! The interface: ties a [`Device`](crate::phy::Device) to a
//! [`SocketSet`](crate::socket::SocketSet).
//!
//! Ingress: Ethernet -> ARP / IPv4 -> ICMPv4 / TCP, handed to the
//! [`SocketSet`](crate::socket::SocketSet), which demultiplexes in O(1) by
//! 4-tuple, then by listening port. Egress: only sockets that have something
//! to do are visited (the set's ready set and timer queue), so a poll costs
//! what the active sockets need, not a scan of the set. Next hops resolve
//! through one [`NeighborCache`](neighbor::NeighborCache) with the NUD
//! states of RFC 4861 section 7.3, for ARP (and NDP).

pub mod fragment;
mod interface;
pub mod neighbor;
pub mod reassembly;
pub mod route;

#[cfg(all(test, feature = "std"))]
mod tests;
#[cfg(all(test, feature = "std"))]
mod tests_config;
#[cfg(all(test, feature = "std", feature = "proto-ipv6"))]
mod tests_ipv6;
#[cfg(all(test, feature = "std"))]
mod tests_link;

pub use self::interface::{Dhcpv4ApplyError, Interface, InterfaceStorage};

use self::neighbor::{NeighborConfig, NeighborStats};
use self::reassembly::{ReassemblyConfig, ReassemblyStats};
pub use crate::socket::TraceEvent;
use crate::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// How many IPv4 addresses an interface can have.
pub const MAX_IP_ADDRS: usize = 4;

/// An interface's configuration.
///
/// TCP settings are per socket ([`TcpSocket::set_config`]; a listener's
/// children inherit the listener's), so the interface has none of its own
/// but [`drop_syn_fin`](Config::drop_syn_fin) for segments that reach no
/// socket.
///
/// [`TcpSocket::set_config`]: crate::socket::tcp::TcpSocket::set_config
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The interface's Ethernet address: a unicast address
    /// ([`Interface::new`] refuses a group address, RFC 1122 section
    /// 2.3.2's hosts answer ARP only for their own unicast address).
    pub hardware_addr: EthernetAddress,
    /// Its IPv4 addresses with their prefixes.
    pub ip_addrs: [Option<Ipv4Cidr>; MAX_IP_ADDRS],
    /// The default gateway for destinations off every prefix: the
    /// interface starts with an IPv4 default route through it (see
    /// [`Interface::set_ipv4_gateway`] and [`Interface::routes_mut`] to
    /// change routes later).
    pub gateway: Option<Ipv4Address>,
    /// The interface-level MTU, capping the device's (see
    /// [`Interface::set_ip_mtu`]); `None` by default: the device's alone.
    pub ip_mtu: Option<usize>,
    /// The 128-bit secret the ISN key (RFC 6528), the demultiplexing hash
    /// key and the ephemeral port selection (RFC 6056) derive from. It has
    /// no default: fix it in tests and replay (deterministic), draw it from
    /// a real random source in production ([`Config::with_os_seed`] with
    /// `std`), so peers can predict none of them.
    pub random_seed: u128,
    /// Drop segments with both SYN and FIN set that reach no socket,
    /// unanswered (FreeBSD's `net.inet.tcp.drop_synfin`; the sockets'
    /// own [`TcpConfig::drop_syn_fin`](crate::socket::tcp::TcpConfig::drop_syn_fin)
    /// covers listeners). Off by default:
    /// such segments draw a RST like any other.
    pub drop_syn_fin: bool,
    /// The neighbor cache's NUD timers and limits (RFC 4861 section 10's
    /// defaults). ReachableTime is drawn from `random_seed` between 0.5 and
    /// 1.5 times `neighbor.base_reachable_time` (RFC 4861 section 6.3.2).
    pub neighbor: NeighborConfig,
    /// IPv4 reassembly settings (the timeout; the storage comes with the
    /// interface's, [`InterfaceStorage`]).
    pub reassembly: ReassemblyConfig,
}

impl Config {
    /// A configuration with a hardware address and the 128-bit random seed
    /// (see [`random_seed`](Config::random_seed)), no IP address.
    ///
    /// The seed is never implied; a configuration without one does not
    /// compile:
    ///
    /// ```compile_fail
    /// use pollnet::iface::Config;
    /// use pollnet::wire::EthernetAddress;
    /// let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]));
    /// ```
    ///
    /// ```
    /// use pollnet::iface::Config;
    /// use pollnet::wire::EthernetAddress;
    /// let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]), 0x0123_4567_89ab_cdef);
    /// assert_eq!(config.random_seed, 0x0123_4567_89ab_cdef);
    /// ```
    pub fn new(hardware_addr: EthernetAddress, random_seed: u128) -> Config {
        Config {
            hardware_addr,
            ip_addrs: [None; MAX_IP_ADDRS],
            gateway: None,
            ip_mtu: None,
            random_seed,
            drop_syn_fin: false,
            neighbor: NeighborConfig::default(),
            reassembly: ReassemblyConfig::default(),
        }
    }

    /// A configuration whose random seed comes from the operating system's
    /// random source (through `getrandom`), as production use needs.
    #[cfg(feature = "std")]
    pub fn with_os_seed(hardware_addr: EthernetAddress) -> Result<Config, getrandom::Error> {
        let mut seed = [0u8; 16];
        getrandom::fill(&mut seed)?;
        Ok(Config::new(hardware_addr, u128::from_le_bytes(seed)))
    }

    /// Adds an IPv4 address (ignored when all slots are taken).
    pub fn with_ip(mut self, cidr: Ipv4Cidr) -> Config {
        if let Some(slot) = self.ip_addrs.iter_mut().find(|a| a.is_none()) {
            *slot = Some(cidr);
        }
        self
    }

    /// Sets the default gateway.
    pub fn with_gateway(mut self, gateway: Ipv4Address) -> Config {
        self.gateway = Some(gateway);
        self
    }

    /// Sets the interface-level MTU ([`ip_mtu`](Config::ip_mtu)).
    pub fn with_ip_mtu(mut self, mtu: usize) -> Config {
        self.ip_mtu = Some(mtu);
        self
    }

    /// Sets [`drop_syn_fin`](Config::drop_syn_fin).
    pub fn with_drop_syn_fin(mut self, drop: bool) -> Config {
        self.drop_syn_fin = drop;
        self
    }

    /// Sets the reassembly settings.
    pub fn with_reassembly(mut self, reassembly: ReassemblyConfig) -> Config {
        self.reassembly = reassembly;
        self
    }

    /// Sets the neighbor cache's NUD timers and limits.
    pub fn with_neighbor(mut self, neighbor: NeighborConfig) -> Config {
        self.neighbor = neighbor;
        self
    }
}

/// Why [`Interface::new`] refused a [`Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// The hardware address is a broadcast or multicast address: the
    /// interface would claim it in ARP replies and as every frame's source
    /// (IEEE 802: a group address is never a source).
    HardwareAddrNotUnicast,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::HardwareAddrNotUnicast => {
                f.write_str("the hardware address is not a unicast address")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// Why an address change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AddressError {
    /// Every one of the [`MAX_IP_ADDRS`] slots holds an address.
    Full,
    /// The address cannot be a host's: unspecified, broadcast, multicast,
    /// class E or loopback (RFC 1122 section 3.2.1.3).
    NotUnicast,
    /// An address of an IP version the interface does not speak yet.
    Unsupported,
    /// The interface does not have that address.
    NotFound,
}

impl core::fmt::Display for AddressError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AddressError::Full => "every address slot is taken",
            AddressError::NotUnicast => "not a unicast host address",
            AddressError::Unsupported => "IP version not supported by the interface",
            AddressError::NotFound => "the interface does not have that address",
        })
    }
}

impl core::error::Error for AddressError {}

/// Counters: every reason a frame is dropped, and what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames received from the device.
    pub rx_frames: u64,
    /// Frames too short for an Ethernet header (on the IP medium: empty
    /// packets).
    pub rx_drop_ethernet_malformed: u64,
    /// Frames for another hardware address.
    pub rx_drop_not_for_us: u64,
    /// Frames of an EtherType we do not handle (IPv6, VLAN, ...); on the
    /// IP medium, packets of an IP version we do not handle.
    pub rx_drop_unknown_ethertype: u64,
    /// Malformed ARP packets, or ARP for other hardware/protocol types, or
    /// with a group (broadcast/multicast) sender hardware address.
    pub rx_drop_arp_malformed: u64,
    /// ARP packets whose sender protocol address is one of ours: another
    /// host claims our address (RFC 5227 section 2.4 calls it a conflict).
    /// Nothing is learned from them.
    pub rx_drop_arp_address_conflict: u64,
    /// ARP packets whose sender protocol address cannot be a host's: a
    /// broadcast, a network address, multicast, 0.0.0.0/8 or loopback (the
    /// rules of the `rx_drop_martian_*` counters).
    pub rx_drop_arp_martian: u64,
    /// Malformed IPv4 headers.
    pub rx_drop_ipv4_malformed: u64,
    /// IPv4 header checksum failures.
    pub rx_drop_ipv4_checksum: u64,
    /// IPv4 fragments dropped before reassembly: their header failed the
    /// checks every datagram passes, or the interface has no reassembly
    /// storage. What reassembly itself drops is in
    /// [`reassembly`](Stats::reassembly).
    pub rx_drop_ipv4_fragment: u64,
    /// IPv4 packets for another address.
    pub rx_drop_ipv4_not_for_us: u64,
    /// IPv4 datagrams from one of our own addresses (a LAND attack, or our
    /// own broadcast looped back): RFC 1122 section 3.2.1.3 lets no host
    /// send from an address it does not own.
    pub rx_drop_martian_own_address: u64,
    /// IPv4 datagrams from a broadcast address: 255.255.255.255 or the
    /// directed broadcast of one of our prefixes (RFC 1122 section
    /// 3.2.1.3: a broadcast is never a source).
    pub rx_drop_martian_broadcast: u64,
    /// IPv4 datagrams from the network address of one of our prefixes (host
    /// part all zeros, prefixes up to /30; the old broadcast form, RFC 1122
    /// section 3.2.1.3).
    pub rx_drop_martian_network: u64,
    /// IPv4 datagrams from a multicast address (224.0.0.0/4, RFC 1122
    /// section 3.2.1.3).
    pub rx_drop_martian_multicast: u64,
    /// IPv4 datagrams from 0.0.0.0/8, "this host on this network", a
    /// source only during initialization (RFC 1122 section 3.2.1.3 (a) and
    /// (b)), which this interface never does.
    pub rx_drop_martian_unspecified: u64,
    /// IPv4 datagrams from 127.0.0.0/8 arriving from the device (RFC 1122
    /// section 3.2.1.3 (g): loopback must not appear on a network).
    pub rx_drop_martian_loopback: u64,
    /// IPv4 packets of a protocol we do not handle (IGMP, ...).
    pub rx_drop_unknown_protocol: u64,
    /// Malformed ICMPv4 messages or ICMP checksum failures.
    pub rx_drop_icmp_malformed: u64,
    /// Malformed TCP headers.
    pub rx_drop_tcp_malformed: u64,
    /// TCP checksum failures.
    pub rx_drop_tcp_checksum: u64,
    /// TCP segments to or from a broadcast/multicast address.
    pub rx_drop_tcp_bad_address: u64,
    /// SYNs dropped because the listener's SYN queue is full and SYN
    /// cookies are off.
    pub rx_drop_syn_backlog_full: u64,
    /// TCP segments received and handed to a socket.
    pub tcp_segments_received: u64,
    /// TCP segments for no connection (answered with a RST unless they were
    /// RSTs themselves).
    pub tcp_no_socket: u64,
    /// ICMP echo requests answered.
    pub icmp_echo_replies: u64,
    /// ICMP errors delivered to a TCP socket.
    pub icmp_errors_to_tcp: u64,
    /// Frames transmitted.
    pub tx_frames: u64,
    /// Times the device had no transmit token.
    pub tx_device_busy: u64,
    /// TCP super-segments handed to a device with segmentation offload
    /// (each counts once in `tx_frames` and `tcp_segments_sent`; the
    /// device sends it as several segments).
    pub tx_tso_frames: u64,
    /// ARP requests sent.
    pub arp_requests_sent: u64,
    /// ARP replies sent.
    pub arp_replies_sent: u64,
    /// ARP requests sent by unicast to the cached address of an entry being
    /// revalidated (NUD's `Probe` state); also counted in
    /// `arp_requests_sent`.
    pub arp_unicast_probes_sent: u64,
    /// Packets held waiting for ARP and then dropped (queue full or expired).
    pub arp_held_dropped: u64,
    /// Packets dropped because the neighbor cache had no room to resolve
    /// their next hop: every entry was a resolution in progress or rate
    /// limited (TCP retransmits).
    pub tx_drop_neighbor_cache_full: u64,
    /// Packets with no route (off-link and no gateway).
    pub tx_drop_no_route: u64,
    /// IPv4 datagrams not sent because they exceed the MTU with DF set
    /// (or cannot be fragmented to it).
    pub tx_drop_too_big: u64,
    /// IPv4 datagrams sent as fragments (RFC 791), and the fragments.
    pub tx_fragmented: u64,
    /// Fragments sent (each counts in `tx_frames` too).
    pub tx_fragments: u64,
    /// TCP segments sent.
    pub tcp_segments_sent: u64,
    /// TCP retransmissions.
    pub tcp_retransmissions: u64,
    /// TCP retransmission timeouts (RFC 6298).
    pub tcp_rtos: u64,
    /// TCP fast recoveries entered (RFC 6675, RFC 6582).
    pub tcp_fast_recoveries: u64,
    /// TCP tail loss probes sent (RFC 8985 section 7).
    pub tcp_tlps_sent: u64,
    /// TCP window reductions undone as spurious (RFC 3708, RFC 3522).
    pub tcp_spurious_undone: u64,
    /// TCP RSTs sent (by sockets and for segments with no connection).
    pub tcp_rsts_sent: u64,
    /// RFC 5961 challenge ACKs sent.
    pub tcp_challenge_acks: u64,
    /// Sockets that could not be entered in the demultiplexing table (full,
    /// or a duplicate 4-tuple).
    pub demux_insert_failed: u64,
    /// SYN-ACKs carrying a SYN cookie (RFC 4987 section 3.6).
    pub tcp_syn_cookies_sent: u64,
    /// Connections rebuilt from a SYN cookie.
    pub tcp_syn_cookies_accepted: u64,
    /// Final ACKs of a handshake dropped for want of a socket slot, buffers
    /// or room in the accept queue (the peer sends them again).
    pub tcp_final_ack_dropped: u64,
    /// TIME_WAIT records dropped to make room for newer ones.
    pub tcp_time_wait_evicted: u64,
    /// Connections dropped to make room for a new one.
    pub tcp_evicted: u64,
    /// Connections ended by their listener's idle timeout.
    pub tcp_idle_timeouts: u64,
    /// UDP datagrams queued by a socket.
    pub udp_datagrams_received: u64,
    /// UDP datagrams sent (or queued while ARP resolves their next hop).
    pub udp_datagrams_sent: u64,
    /// UDP datagrams too short for their header or length field, or to
    /// port 0.
    pub rx_drop_udp_malformed: u64,
    /// UDP checksum failures (RFC 1122 section 4.1.3.4: discarded
    /// silently). A zero checksum is not one: it means none was sent.
    pub rx_drop_udp_checksum: u64,
    /// UDP datagrams a socket had the endpoint of but dropped: its receive
    /// queue was full, or the sender was not its connected peer.
    pub rx_drop_udp_socket: u64,
    /// UDP datagrams for no socket (answered with a port unreachable when
    /// addressed to us alone, within the rate limit).
    pub udp_no_socket: u64,
    /// UDP datagrams (and echo requests) not sent: larger than an IPv4
    /// datagram can be, or no source address to send from. Datagrams
    /// larger than the MTU go out as fragments (`tx_fragmented`).
    pub tx_drop_udp: u64,
    /// ICMP port unreachable messages sent (RFC 1122 section 4.1.3.1).
    pub icmp_port_unreachable_sent: u64,
    /// ICMP errors not sent because of the rate limit (RFC 1812 section
    /// 4.3.2.8).
    pub icmp_errors_rate_limited: u64,
    /// ICMP errors delivered to a UDP or ICMP echo socket.
    pub icmp_errors_to_sockets: u64,
    /// ICMP echo requests sent by echo sockets (or queued for ARP).
    pub icmp_echo_requests_sent: u64,
    /// ICMP echo replies an echo socket queued.
    pub icmp_echo_replies_received: u64,
    /// IPv6 packets with a bad header: too short, not version 6, or a
    /// payload length past the frame (RFC 8200 section 3). Always zero
    /// without the `proto-ipv6` feature, as are the other IPv6 counters.
    pub rx_drop_ipv6_malformed: u64,
    /// IPv6 packets to an address that is neither ours, nor all-nodes
    /// (ff02::1), nor one of our solicited-node groups.
    pub rx_drop_ipv6_not_for_us: u64,
    /// ICMPv6 messages too short, of an unknown type, or with a bad
    /// checksum (RFC 4443 section 2.3).
    pub rx_drop_icmpv6_malformed: u64,
    /// Neighbor Discovery messages that fail RFC 4861 section 7.1's
    /// validity checks (hop limit other than 255, a bad source or option).
    pub rx_drop_ndp_invalid: u64,
    /// Valid ICMPv6 messages the interface does not act on (echo requests
    /// to a group, router and MLD messages, solicitations for another
    /// node's address, echo replies, errors).
    pub rx_icmpv6_ignored: u64,
    /// ICMPv6 echo replies sent (RFC 4443 section 4.2).
    pub icmpv6_echo_replies: u64,
    /// Solicited Neighbor Advertisements sent (RFC 4861 section 7.2.4).
    pub ndp_advertisements_sent: u64,
    /// The neighbor cache's events: failed resolutions, unreachable
    /// entries, upper-layer confirmations, address changes, evictions.
    pub neighbor: NeighborStats,
    /// IPv4 reassembly: fragments, datagrams reassembled, timed out,
    /// discarded for overlaps or for want of space.
    pub reassembly: ReassemblyStats,
}
