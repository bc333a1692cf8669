//! A DHCPv4 client (RFC 2131, options of RFC 2132) with an ARP probe of the
//! offered address (RFC 5227), as a sans-IO state machine.
//!
//! The client never touches the interface. It is given the time, the DHCP
//! datagrams that arrive on port 68 and the ARP packets seen while it
//! probes; it hands out datagrams to send (source and destination address,
//! bytes written into the caller's buffer) and ARP probes or announcements
//! to send, says when it next needs attention, and reports events: a lease
//! was configured, or the address must be removed. What to do with a lease
//! is the application's choice.
//!
//! ```text
//!  INIT -> SELECTING --OFFER--> REQUESTING --ACK--> PROBING --quiet--> BOUND
//!            ^  ^                  | NAK, no answer    | conflict:       | T1
//!            |  +------------------+                   | DECLINE, 10 s   v
//!            |  +--------------------------------------+            RENEWING
//!            |                                                        | T2
//!            +---- NAK, lease expired ----------- REBINDING <---------+
//! ```
//! RENEWING and REBINDING go back to BOUND on an ACK; `release` sends a
//! DHCPRELEASE and stops the client until `reset`.
//!
//! Deviations and choices, each allowed by RFC 2131: DISCOVER goes out at
//! once rather than after a random 1 to 10 s wait (section 4.4.1's SHOULD,
//! meant for many hosts booting together; the caller can delay the first
//! poll); the first OFFER is taken; the broadcast flag is set in every
//! message sent before the client has an address (section 4.1), so servers
//! and relays broadcast their answers and the interface does not need to
//! accept unicast to an address it does not have yet.

use crate::socket::{Context, DatagramOut, Packet, PollAt};
use crate::storage::siphash::{SipKey, siphash24};
use crate::time::{Duration, Instant};
use crate::wire::dhcpv4::{
    CLIENT_PORT, DhcpMessageType, DhcpPacket, DhcpRepr, Ipv4AddressList, MAX_DNS_SERVERS,
    SERVER_PORT,
};
use crate::wire::{
    ArpOperation, ArpRepr, EthernetAddress, IpAddress, IpEndpoint, IpRepr, Ipv4Address, Ipv4Cidr,
    UdpRepr,
};

/// The first retransmission delay of DISCOVER and REQUEST (RFC 2131
/// section 4.1).
pub const INITIAL_RETRANSMIT: Duration = Duration::from_secs(4);
/// The longest retransmission delay: the doubling stops here.
pub const MAX_RETRANSMIT: Duration = Duration::from_secs(64);
/// The randomization of each retransmission delay, either way (RFC 2131
/// section 4.1: "randomized by the value of a uniform random number chosen
/// from the range -1 to +1").
pub const RETRANSMIT_JITTER: Duration = Duration::from_secs(1);
/// How many times a REQUEST in REQUESTING is sent before the client gives
/// up on the offer and starts over (RFC 2131 section 4.4.1 leaves the
/// number to the client).
pub const REQUEST_ATTEMPTS: u32 = 5;
/// The shortest wait between retransmissions in RENEWING and REBINDING
/// (RFC 2131 section 4.4.5).
pub const MIN_RENEW_RETRANSMIT: Duration = Duration::from_secs(60);
/// How long the client waits after a DECLINE before it starts over (RFC
/// 2131 section 3.1, step 5).
pub const DECLINE_BACKOFF: Duration = Duration::from_secs(10);
/// The longest random wait before the first probe (RFC 5227 section 1.1,
/// PROBE_WAIT).
pub const PROBE_WAIT: Duration = Duration::from_secs(1);
/// How many probes are sent (PROBE_NUM).
pub const PROBE_NUM: u8 = 3;
/// The shortest interval between probes (PROBE_MIN).
pub const PROBE_MIN: Duration = Duration::from_secs(1);
/// The longest interval between probes (PROBE_MAX).
pub const PROBE_MAX: Duration = Duration::from_secs(2);
/// How long the client listens after the last probe before it uses the
/// address (ANNOUNCE_WAIT).
pub const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);
/// How many announcements are sent once the address is claimed
/// (ANNOUNCE_NUM).
pub const ANNOUNCE_NUM: u8 = 2;
/// The interval between announcements (ANNOUNCE_INTERVAL).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);
/// The longest host name the client sends (option 12).
pub const MAX_HOST_NAME_LEN: usize = 63;
/// The longest client identifier the client sends (option 61).
pub const MAX_CLIENT_ID_LEN: usize = 32;
/// The largest DHCP message the client says it accepts (option 57): the
/// minimum every DHCP host must accept (RFC 2132 section 9.10), which a
/// receive buffer of one Ethernet MTU always holds.
pub const MAX_MESSAGE_SIZE: u16 = 576;
/// The longest message [`Dhcpv4Socket::dispatch`] writes: a buffer of this
/// size always suffices.
pub const MAX_EMIT_LEN: usize = 576;
/// The options the client asks for (option 55): subnet mask, router, DNS
/// servers, interface MTU, lease time, T1 and T2.
pub const PARAMETER_REQUEST_LIST: [u8; 7] = [1, 3, 6, 26, 51, 58, 59];

/// The lease time meaning "infinite" (RFC 2131 section 3.3).
const INFINITE_LEASE: u32 = 0xffff_ffff;

/// The client's state, named as in RFC 2131 figure 5, with PROBING for the
/// address check of RFC 5227 and RELEASED after [`Dhcpv4Socket::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dhcpv4State {
    /// Waiting to start (after a DECLINE).
    Init,
    /// DISCOVER sent, waiting for an OFFER.
    Selecting,
    /// REQUEST for an offer sent, waiting for the ACK.
    Requesting,
    /// ACKed; checking with ARP that nobody uses the address.
    Probing,
    /// The lease is in use.
    Bound,
    /// T1 passed: renewing with the server that granted the lease.
    Renewing,
    /// T2 passed: asking any server to extend the lease.
    Rebinding,
    /// Released on request; the client does nothing until reset.
    Released,
}

impl core::fmt::Display for Dhcpv4State {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            Dhcpv4State::Init => "INIT",
            Dhcpv4State::Selecting => "SELECTING",
            Dhcpv4State::Requesting => "REQUESTING",
            Dhcpv4State::Probing => "PROBING",
            Dhcpv4State::Bound => "BOUND",
            Dhcpv4State::Renewing => "RENEWING",
            Dhcpv4State::Rebinding => "REBINDING",
            Dhcpv4State::Released => "RELEASED",
        })
    }
}

/// A lease: what the client reports in [`Dhcpv4Event::Configured`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dhcpv4Lease {
    /// The address with the subnet's prefix (option 1; without it, the
    /// prefix of the address's historical class, RFC 791).
    pub address: Ipv4Cidr,
    /// The first router (option 3), the default gateway.
    pub router: Option<Ipv4Address>,
    /// The DNS servers in order of preference (option 6).
    pub dns_servers: Ipv4AddressList<MAX_DNS_SERVERS>,
    /// The interface MTU (option 26).
    pub mtu: Option<u16>,
    /// The server that granted the lease (option 54).
    pub server: Ipv4Address,
    /// The lease time (option 51); `None`: infinite.
    pub lease_duration: Option<Duration>,
    /// When the client starts renewing (T1, option 58; by default half the
    /// lease). Times count from when the REQUEST was sent (RFC 2131
    /// section 4.4.1). `None` for an infinite lease.
    pub renew_at: Option<Instant>,
    /// When the client starts rebinding (T2, option 59; by default 0.875
    /// of the lease).
    pub rebind_at: Option<Instant>,
    /// When the lease ends.
    pub expires_at: Option<Instant>,
}

/// What the client reports to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dhcpv4Event {
    /// A lease is in use: configure its address, route, DNS servers and
    /// MTU. Reported again after each renewal, with the new times.
    Configured(Dhcpv4Lease),
    /// The lease reported before is gone (NAK, expiry, release, reset):
    /// remove its address and route.
    Deconfigured(Dhcpv4Lease),
}

/// Something [`Dhcpv4Socket::dispatch`] asks the interface to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dhcpv4Transmit {
    /// A UDP datagram from port 68 to port 67: `len` bytes at the start of
    /// the buffer. The source is 0.0.0.0 until the client has an address;
    /// the destination is 255.255.255.255 or the server.
    Udp {
        /// The IP source address.
        src: Ipv4Address,
        /// The IP destination address.
        dst: Ipv4Address,
        /// The UDP source port (68).
        src_port: u16,
        /// The UDP destination port (67).
        dst_port: u16,
        /// The payload length.
        len: usize,
    },
    /// An ARP probe (RFC 5227 section 2.1.1): a broadcast ARP request with
    /// sender address 0.0.0.0, target hardware address zero and this target
    /// address. The interface then passes every ARP packet it receives to
    /// [`Dhcpv4Socket::process_arp`] while
    /// [`probing`](Dhcpv4Socket::probing) names the address.
    ArpProbe {
        /// The address being checked.
        target: Ipv4Address,
    },
    /// An ARP announcement (RFC 5227 section 2.3): a broadcast ARP request
    /// with this address as both sender and target address.
    ArpAnnounce {
        /// The address claimed.
        address: Ipv4Address,
    },
}

/// An ARP request the interface sends for the client (a probe or an
/// announcement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArpOut {
    /// The sender protocol address: 0.0.0.0 for a probe.
    pub sender_ip: Ipv4Address,
    /// The target protocol address.
    pub target_ip: Ipv4Address,
}

/// A call the client refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dhcpv4Error {
    /// The buffer given to `dispatch` is shorter than the message
    /// ([`MAX_EMIT_LEN`] always suffices).
    BufferTooSmall,
    /// A host name over [`MAX_HOST_NAME_LEN`] bytes, or empty.
    BadHostName,
    /// A client identifier over [`MAX_CLIENT_ID_LEN`] bytes, or shorter
    /// than 2 (RFC 2132 section 9.14).
    BadClientIdentifier,
}

impl core::fmt::Display for Dhcpv4Error {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            Dhcpv4Error::BufferTooSmall => "buffer too small for the DHCP message",
            Dhcpv4Error::BadHostName => "host name empty or longer than 63 bytes",
            Dhcpv4Error::BadClientIdentifier => "client identifier not 2 to 32 bytes",
        })
    }
}

/// Counters of what the client dropped or did, for diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dhcpv4Stats {
    /// Datagrams that did not parse as a DHCP reply.
    pub rx_malformed: u64,
    /// Replies for another transaction or client, or unexpected in the
    /// state.
    pub rx_ignored: u64,
    /// OFFERs and ACKs refused for a missing or unusable field.
    pub rx_unusable: u64,
    /// NAKs acted on.
    pub naks: u64,
    /// Addresses declined after an ARP conflict.
    pub declines: u64,
    /// Messages retransmitted.
    pub retransmissions: u64,
}

/// An offer being requested or an acknowledged lease being probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offer {
    address: Ipv4Address,
    server: Ipv4Address,
}

/// A one-shot message queued for the next dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Oneshot {
    Decline { offer: Offer, xid: u32 },
    Release { lease: Dhcpv4Lease, xid: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init {
        restart_at: Instant,
    },
    Selecting,
    Requesting {
        offer: Offer,
    },
    Probing {
        lease: Dhcpv4Lease,
        offer: Offer,
        /// Probes still to send; after the last, `deadline` is the claim.
        probes_left: u8,
    },
    Bound {
        lease: Dhcpv4Lease,
        announcements_left: u8,
    },
    Renewing {
        lease: Dhcpv4Lease,
    },
    Rebinding {
        lease: Dhcpv4Lease,
    },
    Released,
}

/// A DHCPv4 client: see the module documentation.
#[derive(Debug, Clone)]
pub struct Dhcpv4Socket {
    hardware_addr: EthernetAddress,
    key: SipKey,
    draws: u64,
    host_name: [u8; MAX_HOST_NAME_LEN],
    host_name_len: usize,
    client_id: [u8; MAX_CLIENT_ID_LEN],
    client_id_len: usize,
    arp_probe: bool,
    phase: Phase,
    /// The transaction id of the exchange in progress.
    xid: u32,
    /// When the exchange in progress began (for `secs`); `None` until its
    /// first message, for the exchange `new` starts before knowing the time.
    exchange_start: Option<Instant>,
    /// When the next message of the exchange goes out (or, in PROBING and
    /// BOUND, the next probe or announcement).
    next_send: Option<Instant>,
    /// Messages of the exchange sent so far.
    attempts: u32,
    /// When the last REQUEST went out: lease times count from it.
    last_request_at: Instant,
    /// The state's own timer: T1 in BOUND, T2 in RENEWING, expiry in
    /// REBINDING, the claim in PROBING.
    deadline: Option<Instant>,
    oneshot: Option<Oneshot>,
    /// The lease in use, as the application should see it.
    current: Option<Dhcpv4Lease>,
    /// The lease last reported through `poll_event`.
    reported: Option<Dhcpv4Lease>,
    stats: Dhcpv4Stats,
    /// The message being handed to the interface (in a socket set).
    tx: [u8; MAX_EMIT_LEN],
}

impl Dhcpv4Socket {
    /// A client for the interface with `hardware_addr`, its randomness
    /// (transaction ids, retransmission jitter, probe spacing) derived from
    /// `random_seed`, the stack's seed (the interface `Config`'s): the same
    /// seed gives the same messages at the same times. It starts in
    /// SELECTING, with a DISCOVER due at the first dispatch.
    ///
    /// The client identifier defaults to type 1 (Ethernet) and the hardware
    /// address (RFC 2132 section 9.14); no host name is sent until one is
    /// set; the ARP probe is on.
    pub fn new(hardware_addr: EthernetAddress, random_seed: u128) -> Dhcpv4Socket {
        let seed_key = SipKey::from_bytes(random_seed.to_le_bytes());
        let key = SipKey([
            siphash24(&seed_key, b"pollnet dhcpv4 k0"),
            siphash24(&seed_key, b"pollnet dhcpv4 k1"),
        ]);
        let mut client_id = [0u8; MAX_CLIENT_ID_LEN];
        client_id[0] = 1;
        client_id[1..7].copy_from_slice(hardware_addr.as_bytes());
        let mut socket = Dhcpv4Socket {
            hardware_addr,
            key,
            draws: 0,
            host_name: [0; MAX_HOST_NAME_LEN],
            host_name_len: 0,
            client_id,
            client_id_len: 7,
            arp_probe: true,
            phase: Phase::Selecting,
            xid: 0,
            exchange_start: None,
            next_send: None,
            attempts: 0,
            last_request_at: Instant::ZERO,
            deadline: None,
            oneshot: None,
            current: None,
            reported: None,
            stats: Dhcpv4Stats::default(),
            tx: [0; MAX_EMIT_LEN],
        };
        socket.start_selecting(None);
        socket
    }

    /// Sets the host name sent in DISCOVER and REQUEST (option 12, RFC
    /// 2132 section 3.14).
    pub fn set_host_name(&mut self, name: &str) -> Result<(), Dhcpv4Error> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_HOST_NAME_LEN {
            return Err(Dhcpv4Error::BadHostName);
        }
        self.host_name[..bytes.len()].copy_from_slice(bytes);
        self.host_name_len = bytes.len();
        Ok(())
    }

    /// Sets the client identifier (option 61): a type byte and the
    /// identifier, 2 to [`MAX_CLIENT_ID_LEN`] bytes. Servers key leases by
    /// it.
    pub fn set_client_identifier(&mut self, id: &[u8]) -> Result<(), Dhcpv4Error> {
        if id.len() < 2 || id.len() > MAX_CLIENT_ID_LEN {
            return Err(Dhcpv4Error::BadClientIdentifier);
        }
        self.client_id[..id.len()].copy_from_slice(id);
        self.client_id_len = id.len();
        Ok(())
    }

    /// Turns the ARP probe of an acknowledged address on or off (RFC 5227;
    /// on by default). Off suits links without ARP; the lease is then
    /// configured as soon as it is acknowledged.
    pub fn set_arp_probe(&mut self, enabled: bool) {
        self.arp_probe = enabled;
    }

    /// The state.
    pub fn state(&self) -> Dhcpv4State {
        match self.phase {
            Phase::Init { .. } => Dhcpv4State::Init,
            Phase::Selecting => Dhcpv4State::Selecting,
            Phase::Requesting { .. } => Dhcpv4State::Requesting,
            Phase::Probing { .. } => Dhcpv4State::Probing,
            Phase::Bound { .. } => Dhcpv4State::Bound,
            Phase::Renewing { .. } => Dhcpv4State::Renewing,
            Phase::Rebinding { .. } => Dhcpv4State::Rebinding,
            Phase::Released => Dhcpv4State::Released,
        }
    }

    /// The lease in use (BOUND, RENEWING, REBINDING), as last reported or
    /// about to be.
    pub fn lease(&self) -> Option<&Dhcpv4Lease> {
        self.current.as_ref()
    }

    /// The transaction id of the exchange in progress.
    pub fn transaction_id(&self) -> u32 {
        self.xid
    }

    /// The counters.
    pub fn stats(&self) -> Dhcpv4Stats {
        self.stats
    }

    /// The address being checked with ARP probes, if the client is
    /// probing: the interface passes it every ARP packet it receives.
    pub fn probing(&self) -> Option<Ipv4Address> {
        match self.phase {
            Phase::Probing { offer, .. } => Some(offer.address),
            _ => None,
        }
    }

    /// When the client next needs [`dispatch`](Self::dispatch): now
    /// (`Some(instant <= now)`) or at a timer. `None` only when released.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.oneshot.is_some() {
            return Some(Instant::ZERO);
        }
        let restart = match self.phase {
            Phase::Init { restart_at } => Some(restart_at),
            _ => None,
        };
        [self.next_send, self.deadline, restart]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event for the application, if the lease changed since the
    /// last call: a `Deconfigured` for the lease reported before comes
    /// before the `Configured` for a new address.
    pub fn poll_event(&mut self) -> Option<Dhcpv4Event> {
        match (self.reported, self.current) {
            (Some(old), new) if new.is_none_or(|new| new.address != old.address) => {
                self.reported = None;
                Some(Dhcpv4Event::Deconfigured(old))
            }
            (old, Some(new)) if old != Some(new) => {
                self.reported = Some(new);
                Some(Dhcpv4Event::Configured(new))
            }
            _ => None,
        }
    }

    /// Releases the lease (RFC 2131 section 4.4.6): a DHCPRELEASE to the
    /// server goes out at the next dispatch, the lease is deconfigured, and
    /// the client stops until [`reset`](Self::reset). Without a lease it
    /// just stops.
    pub fn release(&mut self) {
        if let Some(lease) = self.current.take() {
            let xid = self.draw_u32();
            self.oneshot = Some(Oneshot::Release { lease, xid });
        }
        self.next_send = None;
        self.deadline = None;
        self.enter(Phase::Released);
    }

    /// Starts over from SELECTING (a DISCOVER at the next dispatch),
    /// deconfiguring any lease: for a link that went down and up, or after
    /// a release.
    pub fn reset(&mut self) {
        self.current = None;
        self.start_selecting(None);
    }

    /// Takes in a DHCP message that arrived from `src` to `dst` on UDP
    /// port 68 (its UDP payload). Replies for another transaction or
    /// hardware address, and anything malformed, are dropped and counted.
    pub fn process(&mut self, now: Instant, src: Ipv4Address, dst: Ipv4Address, payload: &[u8]) {
        let _ = (src, dst);
        self.advance(now);
        let Ok(repr) = DhcpPacket::new_checked(payload).and_then(|p| DhcpRepr::parse(&p)) else {
            self.stats.rx_malformed += 1;
            return;
        };
        if repr.transaction_id != self.xid || repr.client_hardware_address != self.hardware_addr {
            self.stats.rx_ignored += 1;
            return;
        }
        match (self.phase, repr.message_type) {
            (Phase::Selecting, DhcpMessageType::Offer) => {
                let (Some(server), true) = (repr.server_identifier, repr.your_ip.is_unicast())
                else {
                    self.stats.rx_unusable += 1;
                    return;
                };
                net_debug!("dhcpv4: offer of {} from {}", repr.your_ip, server);
                let offer = Offer {
                    address: repr.your_ip,
                    server,
                };
                // Same transaction: the REQUEST keeps the xid (section 4.4.1).
                self.attempts = 0;
                self.next_send = Some(now);
                self.enter(Phase::Requesting { offer });
            }
            (Phase::Requesting { offer }, DhcpMessageType::Ack) => {
                if repr.server_identifier.is_some_and(|s| s != offer.server) {
                    self.stats.rx_ignored += 1;
                    return;
                }
                let Some(lease) = self.lease_from_ack(&repr, offer.server) else {
                    self.stats.rx_unusable += 1;
                    return;
                };
                let offer = Offer {
                    address: lease.address.address(),
                    server: offer.server,
                };
                if self.arp_probe {
                    self.start_probing(now, lease, offer);
                } else {
                    self.bind(now, lease, 0);
                }
            }
            (Phase::Renewing { lease } | Phase::Rebinding { lease }, DhcpMessageType::Ack) => {
                let server = repr.server_identifier.unwrap_or(lease.server);
                let Some(new) = self.lease_from_ack(&repr, server) else {
                    self.stats.rx_unusable += 1;
                    return;
                };
                net_debug!("dhcpv4: lease of {} extended", new.address);
                self.bind(now, new, 0);
            }
            (Phase::Requesting { offer }, DhcpMessageType::Nak) => {
                if repr.server_identifier.is_some_and(|s| s != offer.server) {
                    self.stats.rx_ignored += 1;
                    return;
                }
                net_debug!("dhcpv4: NAK in REQUESTING");
                self.stats.naks += 1;
                self.start_selecting(Some(now));
            }
            (Phase::Renewing { .. } | Phase::Rebinding { .. }, DhcpMessageType::Nak) => {
                net_debug!("dhcpv4: NAK, lease withdrawn");
                self.stats.naks += 1;
                self.current = None;
                self.start_selecting(Some(now));
            }
            _ => self.stats.rx_ignored += 1,
        }
    }

    /// Takes in an ARP packet the interface received while the client is
    /// [`probing`](Self::probing). A packet whose sender address is the
    /// probed address, or another host's probe for it (sender address
    /// 0.0.0.0, RFC 5227 section 2.1.1), is a conflict: the client queues a
    /// DECLINE and starts over after [`DECLINE_BACKOFF`].
    pub fn process_arp(
        &mut self,
        now: Instant,
        sender_hardware_addr: EthernetAddress,
        sender_ip: Ipv4Address,
        target_ip: Ipv4Address,
    ) {
        self.advance(now);
        let Phase::Probing { offer, .. } = self.phase else {
            return;
        };
        let conflict = sender_ip == offer.address
            || (sender_ip.is_unspecified()
                && target_ip == offer.address
                && sender_hardware_addr != self.hardware_addr);
        if !conflict {
            return;
        }
        net_debug!(
            "dhcpv4: {} is in use by {}, declining",
            offer.address,
            sender_hardware_addr
        );
        self.stats.declines += 1;
        let xid = self.draw_u32();
        self.oneshot = Some(Oneshot::Decline { offer, xid });
        self.next_send = None;
        self.deadline = None;
        self.enter(Phase::Init {
            restart_at: now + DECLINE_BACKOFF,
        });
    }

    /// Moves the timers to `now` and, if something is due, writes it: a
    /// DHCP message into `buffer` (the UDP payload; [`MAX_EMIT_LEN`] bytes
    /// always suffice) or an ARP probe or announcement to send. `Ok(None)`
    /// when nothing is due. Call it until it returns `Ok(None)`.
    pub fn dispatch(
        &mut self,
        now: Instant,
        buffer: &mut [u8],
    ) -> Result<Option<Dhcpv4Transmit>, Dhcpv4Error> {
        self.advance(now);
        if let Some(oneshot) = self.oneshot {
            let (repr, dst) = self.oneshot_repr(oneshot);
            let len = emit(&repr, buffer)?;
            self.oneshot = None;
            let src = match oneshot {
                Oneshot::Decline { .. } => Ipv4Address::UNSPECIFIED,
                Oneshot::Release { lease, .. } => lease.address.address(),
            };
            return Ok(Some(udp(src, dst, len)));
        }
        if self.next_send.is_none_or(|at| at > now) {
            return Ok(None);
        }
        match self.phase {
            Phase::Probing {
                lease,
                offer,
                probes_left,
            } => {
                let probes_left = probes_left.saturating_sub(1);
                self.phase = Phase::Probing {
                    lease,
                    offer,
                    probes_left,
                };
                self.next_send = if probes_left > 0 {
                    let spread = PROBE_MAX - PROBE_MIN;
                    Some(now + PROBE_MIN + self.draw_duration(spread))
                } else {
                    self.deadline = Some(now + ANNOUNCE_WAIT);
                    None
                };
                return Ok(Some(Dhcpv4Transmit::ArpProbe {
                    target: offer.address,
                }));
            }
            Phase::Bound {
                lease,
                announcements_left,
            } => {
                let announcements_left = announcements_left.saturating_sub(1);
                self.phase = Phase::Bound {
                    lease,
                    announcements_left,
                };
                self.next_send = (announcements_left > 0).then(|| now + ANNOUNCE_INTERVAL);
                return Ok(Some(Dhcpv4Transmit::ArpAnnounce {
                    address: lease.address.address(),
                }));
            }
            _ => {}
        }
        if let Phase::Requesting { .. } = self.phase
            && self.attempts >= REQUEST_ATTEMPTS
        {
            net_debug!("dhcpv4: no answer to REQUEST, starting over");
            self.start_selecting(Some(now));
        }
        self.exchange_start.get_or_insert(now);
        let Some((repr, src, dst)) = self.exchange_repr(now) else {
            self.next_send = None;
            return Ok(None);
        };
        let len = emit(&repr, buffer)?;
        let message_type = repr.message_type;
        if self.attempts > 0 {
            self.stats.retransmissions += 1;
        }
        self.attempts += 1;
        if message_type == DhcpMessageType::Request {
            self.last_request_at = now;
        }
        self.next_send = Some(self.next_retransmission(now));
        Ok(Some(udp(src, dst, len)))
    }

    /// [`poll_at`](Self::poll_at) for the socket set.
    pub(crate) fn poll_at_cx(&self, cx: &Context) -> PollAt {
        match self.poll_at() {
            Some(at) if at <= cx.now => PollAt::Now,
            Some(at) => PollAt::Time(at),
            None => PollAt::Ingress,
        }
    }

    /// [`dispatch`](Self::dispatch) for the socket set: what is due goes to
    /// `emit` as a packet; if `emit` fails (the device is busy) the client
    /// is as before, and sends it at the next turn.
    pub(crate) fn dispatch_packet<E>(
        &mut self,
        cx: &mut Context,
        emit: &mut impl FnMut(&mut Context, Packet<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let saved = self.clone();
        let mut tx = core::mem::replace(&mut self.tx, [0; MAX_EMIT_LEN]);
        let result = self.dispatch(cx.now, &mut tx);
        self.tx = tx;
        // The buffer is MAX_EMIT_LEN long: dispatch cannot fail.
        let Ok(Some(transmit)) = result else {
            return Ok(false);
        };
        let packet = match transmit {
            Dhcpv4Transmit::Udp {
                src,
                dst,
                src_port,
                dst_port,
                len,
            } => Packet::Udp(DatagramOut {
                src_addr: Some(IpAddress::Ipv4(src)),
                src_port,
                dst: IpEndpoint::new(IpAddress::Ipv4(dst), dst_port),
                hop_limit: None,
                payload: &self.tx[..len],
            }),
            Dhcpv4Transmit::ArpProbe { target } => Packet::Arp(ArpOut {
                sender_ip: Ipv4Address::UNSPECIFIED,
                target_ip: target,
            }),
            Dhcpv4Transmit::ArpAnnounce { address } => Packet::Arp(ArpOut {
                sender_ip: address,
                target_ip: address,
            }),
        };
        match emit(cx, packet) {
            Ok(()) => Ok(true),
            Err(err) => {
                *self = saved;
                Err(err)
            }
        }
    }

    /// A datagram the set found for port 68: taken if it came from port
    /// 67 over IPv4.
    pub(crate) fn process_udp(&mut self, cx: &mut Context, ip: &IpRepr, repr: &UdpRepr) -> bool {
        let (Some(src), Some(dst)) = (ip.src_addr.as_ipv4(), ip.dst_addr.as_ipv4()) else {
            return false;
        };
        if repr.src_port != SERVER_PORT {
            self.stats.rx_ignored += 1;
            return false;
        }
        self.process(cx.now, src, dst, repr.payload);
        true
    }

    /// [`process_arp`](Self::process_arp) from a parsed ARP packet.
    pub(crate) fn process_arp_repr(&mut self, now: Instant, arp: &ArpRepr) {
        let ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request | ArpOperation::Reply,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } = *arp
        else {
            return;
        };
        self.process_arp(
            now,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
        );
    }

    /// Fires the state timers that are due at `now`.
    fn advance(&mut self, now: Instant) {
        // Each step changes the phase to one with a later or no deadline,
        // so this ends; the bound is a guard.
        for _ in 0..8 {
            match self.phase {
                Phase::Init { restart_at } if restart_at <= now => self.start_selecting(Some(now)),
                Phase::Probing { lease, .. } if self.deadline.is_some_and(|at| at <= now) => {
                    self.bind(now, lease, ANNOUNCE_NUM)
                }
                Phase::Bound { lease, .. } if self.deadline.is_some_and(|at| at <= now) => {
                    net_debug!("dhcpv4: T1, renewing");
                    self.new_exchange(now);
                    self.deadline = lease.rebind_at;
                    self.enter(Phase::Renewing { lease });
                }
                Phase::Renewing { lease } if self.deadline.is_some_and(|at| at <= now) => {
                    net_debug!("dhcpv4: T2, rebinding");
                    self.new_exchange(now);
                    self.deadline = lease.expires_at;
                    self.enter(Phase::Rebinding { lease });
                }
                Phase::Rebinding { .. } if self.deadline.is_some_and(|at| at <= now) => {
                    net_debug!("dhcpv4: lease expired");
                    self.current = None;
                    self.start_selecting(Some(now));
                }
                _ => return,
            }
        }
    }

    fn enter(&mut self, phase: Phase) {
        let from = self.state();
        self.phase = phase;
        let to = self.state();
        if from != to {
            net_trace!("dhcpv4: {} -> {}", from, to);
        }
    }

    /// Starts a DISCOVER exchange, at `now` or, before the first dispatch
    /// has said what time it is, at that dispatch.
    fn start_selecting(&mut self, now: Option<Instant>) {
        self.new_exchange(now.unwrap_or(Instant::ZERO));
        // Without the time, the first dispatch sends it and starts the clock.
        self.exchange_start = now;
        self.deadline = None;
        self.enter(Phase::Selecting);
    }

    /// A new transaction id and a message due at `now`.
    fn new_exchange(&mut self, now: Instant) {
        self.xid = self.draw_u32();
        self.exchange_start = Some(now);
        self.attempts = 0;
        self.next_send = Some(now);
    }

    fn start_probing(&mut self, now: Instant, lease: Dhcpv4Lease, offer: Offer) {
        // The probes start after a random wait of up to PROBE_WAIT.
        let wait = self.draw_duration(PROBE_WAIT);
        self.next_send = Some(now + wait);
        self.deadline = None;
        self.enter(Phase::Probing {
            lease,
            offer,
            probes_left: PROBE_NUM,
        });
    }

    fn bind(&mut self, now: Instant, lease: Dhcpv4Lease, announcements: u8) {
        self.current = Some(lease);
        self.deadline = lease.renew_at;
        self.next_send = (announcements > 0).then_some(now);
        self.enter(Phase::Bound {
            lease,
            announcements_left: announcements,
        });
    }

    /// The lease an ACK grants, its times counted from the last REQUEST.
    fn lease_from_ack(&self, repr: &DhcpRepr, server: Ipv4Address) -> Option<Dhcpv4Lease> {
        let address = repr.your_ip;
        if !address.is_unicast() {
            return None;
        }
        let prefix_len = match repr.subnet_mask {
            Some(mask) => {
                let bits = mask.to_bits();
                // A mask must be contiguous ones (RFC 950).
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return None;
                }
                bits.leading_ones() as u8
            }
            None => match address.0[0] {
                0..=127 => 8,
                128..=191 => 16,
                _ => 24,
            },
        };
        let address = Ipv4Cidr::new(address, prefix_len)?;
        let secs = repr.lease_duration?;
        let start = self.last_request_at;
        let (lease_duration, renew_at, rebind_at, expires_at) = if secs == INFINITE_LEASE {
            (None, None, None, None)
        } else {
            let lease = u64::from(secs);
            let t2 = repr
                .rebind_duration
                .map(u64::from)
                .filter(|&t2| t2 < lease)
                .unwrap_or(lease * 7 / 8);
            let t1 = repr
                .renew_duration
                .map(u64::from)
                .filter(|&t1| t1 < t2)
                .unwrap_or((lease / 2).min(t2));
            let at = |secs: u64| Some(start + Duration::from_secs(secs));
            (Some(Duration::from_secs(lease)), at(t1), at(t2), at(lease))
        };
        Some(Dhcpv4Lease {
            address,
            router: repr.routers.first(),
            dns_servers: repr.dns_servers,
            mtu: repr.interface_mtu,
            server,
            lease_duration,
            renew_at,
            rebind_at,
            expires_at,
        })
    }

    /// The message of the exchange in progress, with its IP source and
    /// destination.
    fn exchange_repr(&self, now: Instant) -> Option<(DhcpRepr<'_>, Ipv4Address, Ipv4Address)> {
        let start = self.exchange_start.unwrap_or(now);
        let secs = now
            .saturating_duration_since(start)
            .secs()
            .min(u64::from(u16::MAX)) as u16;
        let base = DhcpRepr {
            secs,
            client_identifier: Some(&self.client_id[..self.client_id_len]),
            parameter_request_list: Some(&PARAMETER_REQUEST_LIST),
            max_message_size: Some(MAX_MESSAGE_SIZE),
            host_name: (self.host_name_len > 0).then_some(&self.host_name[..self.host_name_len]),
            ..DhcpRepr::new(DhcpMessageType::Discover, self.xid, self.hardware_addr)
        };
        let broadcast = Ipv4Address::BROADCAST;
        let unspecified = Ipv4Address::UNSPECIFIED;
        match self.phase {
            Phase::Selecting => Some((
                DhcpRepr {
                    broadcast: true,
                    ..base
                },
                unspecified,
                broadcast,
            )),
            // Section 4.3.2, table 5: REQUEST in SELECTING carries the
            // server identifier and requested address, ciaddr zero.
            Phase::Requesting { offer } => Some((
                DhcpRepr {
                    message_type: DhcpMessageType::Request,
                    broadcast: true,
                    requested_ip: Some(offer.address),
                    server_identifier: Some(offer.server),
                    ..base
                },
                unspecified,
                broadcast,
            )),
            // RENEWING: unicast to the server, ciaddr set, neither option.
            Phase::Renewing { lease } => Some((
                DhcpRepr {
                    message_type: DhcpMessageType::Request,
                    client_ip: lease.address.address(),
                    ..base
                },
                lease.address.address(),
                lease.server,
            )),
            // REBINDING: the same, broadcast.
            Phase::Rebinding { lease } => Some((
                DhcpRepr {
                    message_type: DhcpMessageType::Request,
                    client_ip: lease.address.address(),
                    ..base
                },
                lease.address.address(),
                broadcast,
            )),
            _ => None,
        }
    }

    /// A DECLINE or RELEASE (RFC 2131 section 4.4.4, table 5: client
    /// identifier and server identifier, no parameter list) and its
    /// destination.
    fn oneshot_repr(&self, oneshot: Oneshot) -> (DhcpRepr<'_>, Ipv4Address) {
        let base = |message_type, xid| DhcpRepr {
            client_identifier: Some(&self.client_id[..self.client_id_len]),
            ..DhcpRepr::new(message_type, xid, self.hardware_addr)
        };
        match oneshot {
            Oneshot::Decline { offer, xid } => (
                DhcpRepr {
                    requested_ip: Some(offer.address),
                    server_identifier: Some(offer.server),
                    ..base(DhcpMessageType::Decline, xid)
                },
                Ipv4Address::BROADCAST,
            ),
            Oneshot::Release { lease, xid } => (
                DhcpRepr {
                    client_ip: lease.address.address(),
                    server_identifier: Some(lease.server),
                    ..base(DhcpMessageType::Release, xid)
                },
                lease.server,
            ),
        }
    }

    /// When the message just sent at `now` goes out again.
    fn next_retransmission(&mut self, now: Instant) -> Instant {
        match self.phase {
            Phase::Renewing { .. } | Phase::Rebinding { .. } => {
                // Half the time left to T2 or expiry, at least 60 s
                // (section 4.4.5); the state timer fires first anyway.
                let until = self.deadline.map_or(Duration::ZERO, |at| at - now);
                now + Duration::from_micros(until.total_micros() / 2).max(MIN_RENEW_RETRANSMIT)
            }
            _ => {
                // 4 s, 8 s, ... 64 s, each +-1 s (section 4.1).
                let doublings = self.attempts.saturating_sub(1).min(4);
                let base = INITIAL_RETRANSMIT.saturating_mul(1 << doublings);
                let base = if base > MAX_RETRANSMIT {
                    MAX_RETRANSMIT
                } else {
                    base
                };
                let jitter = self.draw_duration(RETRANSMIT_JITTER.saturating_mul(2));
                now + (base - RETRANSMIT_JITTER) + jitter
            }
        }
    }

    /// The next pseudo-random 64 bits: SipHash-2-4 of a counter under a
    /// key derived from the seed.
    fn draw(&mut self) -> u64 {
        self.draws += 1;
        siphash24(&self.key, &self.draws.to_le_bytes())
    }

    fn draw_u32(&mut self) -> u32 {
        self.draw() as u32
    }

    /// A uniform duration in `0..=max`, to the microsecond.
    fn draw_duration(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.draw() % (max.total_micros() + 1))
    }
}

fn emit(repr: &DhcpRepr, buffer: &mut [u8]) -> Result<usize, Dhcpv4Error> {
    let len = repr.buffer_len();
    let out = buffer.get_mut(..len).ok_or(Dhcpv4Error::BufferTooSmall)?;
    // Every option is bounded by its setter (at most 63 bytes); only a
    // short buffer can fail, and it was checked above.
    repr.emit(&mut DhcpPacket::new_unchecked(out))
        .map_err(|_| Dhcpv4Error::BufferTooSmall)?;
    Ok(len)
}

fn udp(src: Ipv4Address, dst: Ipv4Address, len: usize) -> Dhcpv4Transmit {
    Dhcpv4Transmit::Udp {
        src,
        dst,
        src_port: CLIENT_PORT,
        dst_port: SERVER_PORT,
        len,
    }
}

#[cfg(test)]
mod tests;
