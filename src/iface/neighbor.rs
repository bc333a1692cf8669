//! The neighbor cache: one Neighbor Unreachability Detection (NUD) cache
//! for ARP (RFC 826) and NDP (RFC 4861), keyed by [`IpAddress`].
//!
//! Every entry is in one of the states of RFC 4861 section 7.3.2, and
//! moves between them as section 7.3.3 says, for ARP as well as NDP
//! (RFC 1122 section 2.3.2.1 asks ARP for the same: revalidate an entry by
//! unicast when the upper layers stop confirming it):
//!
//! - [`Incomplete`](NeighborState::Incomplete): a resolution is in progress.
//!   Solicitations (ARP broadcast requests, NDP multicast solicitations)
//!   go out every `retrans_timer`, at most `max_multicast_solicit` of them;
//!   then the resolution has failed and the entry is freed. Packets wait in
//!   the interface's held queue.
//! - [`Reachable`](NeighborState::Reachable): confirmed within the last
//!   ReachableTime, by an answer to our own solicitation or by upper-layer
//!   advice (TCP's new data acknowledged, RFC 4861 section 7.3.1).
//! - [`Stale`](NeighborState::Stale): the mapping is usable but not
//!   confirmed lately. Nothing is sent until a packet is: then `Delay`.
//! - [`Delay`](NeighborState::Delay): a packet went out on a stale entry;
//!   upper layers have `delay_first_probe_time` to confirm it.
//! - [`Probe`](NeighborState::Probe): unicast solicitations to the cached
//!   link-layer address every `retrans_timer`, at most
//!   `max_unicast_solicit`. Unanswered, the entry goes back to `Incomplete`
//!   and is resolved by broadcast again (RFC 7048 section 3: the mapping
//!   may have changed, so ask everyone rather than give up).
//!
//! Two rules harden the cache against forged and flooded input:
//!
//! - **Rate limit whatever the state** (RFC 1122 section 2.3.2.1: at most one
//!   request per second per address): solicitations for one address are at
//!   least `retrans_timer` apart, across state changes, failures and
//!   evictions. An entry in `Incomplete`, or one that solicited less than
//!   `retrans_timer` ago, is never evicted; when nothing else can be, a new
//!   resolution is refused ([`Resolution::CacheFull`]) rather than
//!   forgetting a rate limit.
//! - **A changed address is not confirmed by upper layers.** When an
//!   unsolicited message (ARP request, gratuitous ARP, an unrequested reply)
//!   changes the link-layer address of an entry, the entry becomes `Stale`
//!   and *suspect*: upper-layer advice is ignored for it (acknowledgments
//!   still in flight answer packets sent to the old address, and would
//!   otherwise confirm a forged one), and the next packet sent moves it
//!   straight to `Probe` (the `Delay` state exists only to wait for that
//!   advice). Only an answer to our own solicitation clears it. So one
//!   forged reply costs `max_unicast_solicit * retrans_timer` (3 s by
//!   default) of traffic sent to the wrong address, then a broadcast
//!   resolution repairs the entry. An attacker who answers every probe is
//!   not stopped by this (ARP has no authentication).
//!
//! When the cache is full, a new entry takes an empty or dead slot, else the
//! slot of the least recently used resolved entry (entries never used to
//! send go first), never one whose rate limit is still running.
//!
//! The cache is a fixed array on caller-provided storage ([`ManagedSlice`]);
//! lookups scan it, which for the few dozen on-link neighbors a host talks
//! to costs less than hashing. It reads no clock: every call takes `now`.

use managed::ManagedSlice;

use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, IpAddress};

/// An instant before any real one: "never".
const NEVER: Instant = Instant::from_micros(i64::MIN);
/// An instant after any real one: "no deadline".
const NO_DEADLINE: Instant = Instant::from_micros(i64::MAX);

/// The state of a neighbor entry (RFC 4861 section 7.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NeighborState {
    /// Resolution in progress: broadcast (ARP) or multicast (NDP)
    /// solicitations are being sent; no link-layer address yet.
    #[default]
    Incomplete,
    /// Confirmed reachable within the last ReachableTime.
    Reachable,
    /// Usable, not confirmed lately; revalidated when next used.
    Stale,
    /// Used while stale; waiting `delay_first_probe_time` for upper-layer
    /// advice before probing.
    Delay,
    /// Being revalidated by unicast solicitations.
    Probe,
}

/// The NUD timers and limits (RFC 4861 section 10's protocol constants,
/// which RFC 1122 section 2.3.2.1 leaves open for ARP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeighborConfig {
    /// BaseReachableTime (RFC 4861 section 6.3.2, 30 s): an interface
    /// believes a confirmation for ReachableTime, a value drawn from its
    /// random seed between 0.5 and 1.5 times this.
    pub base_reachable_time: Duration,
    /// RetransTimer (1 s): the time between two solicitations for one
    /// address, in every state (RFC 1122 section 2.3.2.1's one request per
    /// second).
    pub retrans_timer: Duration,
    /// DELAY_FIRST_PROBE_TIME (5 s): how long a stale entry used to send
    /// waits for upper-layer advice before it is probed.
    pub delay_first_probe_time: Duration,
    /// MAX_UNICAST_SOLICIT (3): unicast probes of an entry before it is
    /// resolved by broadcast again.
    pub max_unicast_solicit: u8,
    /// MAX_MULTICAST_SOLICIT (3): broadcast (ARP) or multicast (NDP)
    /// solicitations before a resolution fails.
    pub max_multicast_solicit: u8,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            base_reachable_time: Duration::from_secs(30),
            retrans_timer: Duration::from_secs(1),
            delay_first_probe_time: Duration::from_secs(5),
            max_unicast_solicit: 3,
            max_multicast_solicit: 3,
        }
    }
}

/// One entry of a [`NeighborCache`]'s storage. The caller allocates e.g.
/// `vec![Neighbor::default(); 8]` or a static array; the default is empty.
#[derive(Debug, Clone, Copy)]
pub struct Neighbor {
    ip: Option<IpAddress>,
    /// Meaningful in every state but `Incomplete`.
    mac: EthernetAddress,
    state: NeighborState,
    /// The address was changed by an unsolicited message and not confirmed
    /// since by an answer to our own solicitation.
    suspect: bool,
    /// Whether a packet was ever sent using this entry.
    used: bool,
    /// Solicitations sent in the current `Incomplete` or `Probe` round.
    probes: u8,
    /// `Reachable`: when it goes stale. `Delay`: when probing starts.
    /// `Probe`, `Incomplete`: when the next solicitation is due (or, with
    /// every solicitation sent, when the round has failed).
    timer: Instant,
    /// When the last solicitation for this address went out.
    solicited_at: Instant,
    /// When a packet was last sent using it (or when it was made).
    used_at: Instant,
}

impl Default for Neighbor {
    fn default() -> Self {
        Neighbor {
            ip: None,
            mac: EthernetAddress([0; 6]),
            state: NeighborState::Incomplete,
            suspect: false,
            used: false,
            probes: 0,
            timer: NO_DEADLINE,
            solicited_at: NEVER,
            used_at: NEVER,
        }
    }
}

/// What a timer did to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    None,
    /// Unicast probes went unanswered: back to `Incomplete`.
    Unreachable,
    /// The resolution failed: the entry is gone.
    Failed,
}

impl Neighbor {
    fn new(ip: IpAddress, now: Instant) -> Neighbor {
        Neighbor {
            ip: Some(ip),
            used_at: now,
            ..Neighbor::default()
        }
    }

    /// Applies the timers due at `now` (RFC 4861 section 7.3.3, RFC 7048
    /// section 3), one state at a time; solicitations themselves are sent
    /// by the caller, which is why a round ends only once all of them were.
    fn expire(&mut self, now: Instant, config: &NeighborConfig) -> Expiry {
        let mut expiry = Expiry::None;
        loop {
            if self.ip.is_none() || now < self.next_action_at(config) {
                return expiry;
            }
            match self.state {
                NeighborState::Reachable => {
                    self.state = NeighborState::Stale;
                    self.timer = NO_DEADLINE;
                }
                NeighborState::Stale => return expiry,
                NeighborState::Delay => {
                    // The first probe is due when the delay ends.
                    self.state = NeighborState::Probe;
                    self.probes = 0;
                }
                NeighborState::Probe if self.probes >= config.max_unicast_solicit => {
                    // Due now: the broadcast follows the last unicast probe
                    // by `retrans_timer`, as the timer already says.
                    self.state = NeighborState::Incomplete;
                    self.probes = 0;
                    self.suspect = false;
                    expiry = Expiry::Unreachable;
                }
                NeighborState::Incomplete if self.probes >= config.max_multicast_solicit => {
                    *self = Neighbor::default();
                    return Expiry::Failed;
                }
                // A solicitation is due.
                NeighborState::Probe | NeighborState::Incomplete => return expiry,
            }
        }
    }

    /// Whether a solicitation is due at `now` (timers already applied).
    fn solicitation_due(&self, now: Instant, config: &NeighborConfig) -> bool {
        let limit = match self.state {
            NeighborState::Incomplete => config.max_multicast_solicit,
            NeighborState::Probe => config.max_unicast_solicit,
            _ => return false,
        };
        self.ip.is_some() && self.probes < limit && now >= self.next_action_at(config)
    }

    /// When the entry's timer next acts: its deadline, but never a
    /// solicitation sooner than `retrans_timer` after the last one,
    /// whatever the states in between.
    fn next_action_at(&self, config: &NeighborConfig) -> Instant {
        match self.state {
            NeighborState::Incomplete | NeighborState::Probe => {
                self.timer.max(self.solicited_at + config.retrans_timer)
            }
            _ => self.timer,
        }
    }

    /// Whether the entry may be replaced at `now` by another address
    /// (timers already applied): any resolved entry whose rate limit is
    /// over. A resolution in progress never is.
    fn evictable(&self, now: Instant, config: &NeighborConfig) -> bool {
        self.state != NeighborState::Incomplete && now >= self.solicited_at + config.retrans_timer
    }

    /// The instant the interface must act on this entry: a solicitation or
    /// the end of a round.
    fn wake_at(&self, config: &NeighborConfig) -> Option<Instant> {
        match self.state {
            _ if self.ip.is_none() => None,
            NeighborState::Incomplete | NeighborState::Delay | NeighborState::Probe => {
                Some(self.next_action_at(config))
            }
            NeighborState::Reachable | NeighborState::Stale => None,
        }
    }
}

/// How to send a packet to a neighbor: the answer to
/// [`NeighborCache::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resolution {
    /// Send it to this link-layer address now.
    Send(EthernetAddress),
    /// Hold it: the address is being resolved. A solicitation may be due
    /// ([`NeighborCache::due_solicitation`]).
    Hold,
    /// The cache has no room for a new resolution: every entry is a
    /// resolution in progress or still rate limited. Drop the packet (the
    /// transport retransmits).
    CacheFull,
}

/// A solicitation the interface should send now (ARP request, NDP
/// neighbor solicitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Solicitation {
    /// The address to resolve.
    pub target: IpAddress,
    /// The cached link-layer address for a unicast probe (`Probe` state);
    /// `None` for a broadcast (ARP) or multicast (NDP) solicitation.
    pub unicast: Option<EthernetAddress>,
}

/// Counters of the cache's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeighborStats {
    /// Resolutions that failed: `max_multicast_solicit` solicitations
    /// unanswered.
    pub resolution_failures: u64,
    /// Entries whose unicast probes went unanswered and that went back to
    /// broadcast resolution.
    pub unreachable: u64,
    /// Entries confirmed by upper-layer advice.
    pub upper_layer_confirmations: u64,
    /// Upper-layer advice ignored because the entry's address had been
    /// changed by an unsolicited message and not confirmed since.
    pub suspect_confirmations_ignored: u64,
    /// Unsolicited messages that changed an entry's link-layer address.
    pub address_changes: u64,
    /// Entries replaced to make room for another address.
    pub evictions: u64,
    /// Mappings not learned, or resolutions refused, because every entry
    /// was a resolution in progress or rate limited.
    pub cache_full: u64,
}

/// The neighbor cache: a fixed number of IP-to-link-layer mappings with
/// the NUD states and timers of RFC 4861 section 7.3 (see the module docs).
#[derive(Debug)]
pub struct NeighborCache<'a> {
    entries: ManagedSlice<'a, Neighbor>,
    config: NeighborConfig,
    reachable_time: Duration,
    /// No entry needs the interface before this (a lower bound).
    wake: Instant,
    stats: NeighborStats,
}

impl<'a> NeighborCache<'a> {
    /// A cache on `storage`, one entry per element, with the default
    /// [`NeighborConfig`] and ReachableTime equal to its base (an interface
    /// randomizes it). Any previous contents of the storage are discarded.
    pub fn new<S: Into<ManagedSlice<'a, Neighbor>>>(storage: S) -> Self {
        let config = NeighborConfig::default();
        let mut cache = NeighborCache {
            entries: storage.into(),
            config,
            reachable_time: config.base_reachable_time,
            wake: NO_DEADLINE,
            stats: NeighborStats::default(),
        };
        cache.flush();
        cache
    }

    /// The number of entries the cache can hold.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// The number of entries in use.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.ip.is_some()).count()
    }

    /// Whether no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The timers and limits.
    pub fn config(&self) -> &NeighborConfig {
        &self.config
    }

    /// Sets the timers and limits; ReachableTime becomes the base (see
    /// [`set_reachable_time`](Self::set_reachable_time)). Running timers
    /// keep their deadlines.
    pub fn set_config(&mut self, config: NeighborConfig) {
        self.config = config;
        self.reachable_time = config.base_reachable_time;
    }

    /// ReachableTime: how long a confirmation keeps an entry `Reachable`.
    pub fn reachable_time(&self) -> Duration {
        self.reachable_time
    }

    /// Sets ReachableTime (RFC 4861 section 6.3.2: a random multiple of
    /// BaseReachableTime between 0.5 and 1.5, so that hosts do not probe in
    /// step).
    pub fn set_reachable_time(&mut self, reachable_time: Duration) {
        self.reachable_time = reachable_time;
    }

    /// The cache's counters.
    pub fn stats(&self) -> NeighborStats {
        self.stats
    }

    /// The link-layer address `ip` maps to at `now`, in any state but
    /// `Incomplete`. Changes nothing: a packet about to be sent asks
    /// [`resolve`](Self::resolve).
    pub fn lookup(&self, ip: IpAddress, now: Instant) -> Option<EthernetAddress> {
        let entry = self.current(ip, now)?;
        (entry.state != NeighborState::Incomplete).then_some(entry.mac)
    }

    /// The state of the entry for `ip` at `now`, if there is one.
    pub fn state(&self, ip: IpAddress, now: Instant) -> Option<NeighborState> {
        self.current(ip, now).map(|entry| entry.state)
    }

    /// Whether the entry for `ip` is suspect: its address was changed by an
    /// unsolicited message and not confirmed since (see the module docs).
    pub fn is_suspect(&self, ip: IpAddress, now: Instant) -> bool {
        self.current(ip, now).is_some_and(|entry| entry.suspect)
    }

    /// What to do with a packet for the neighbor `ip` at `now` (RFC 4861
    /// section 7.3.3, "sending packets"): send it to a known address (a
    /// stale entry starts its delay, or, if suspect, its probes), or hold
    /// it while the address is resolved (a new entry in `Incomplete` whose
    /// first solicitation is due at once).
    pub fn resolve(&mut self, ip: IpAddress, now: Instant) -> Resolution {
        let config = self.config;
        if let Some(index) = self.index_of(ip) {
            let Some(entry) = self.entries.get_mut(index) else {
                return Resolution::CacheFull;
            };
            match entry.expire(now, &config) {
                Expiry::None => {}
                Expiry::Unreachable => self.stats.unreachable += 1,
                Expiry::Failed => self.stats.resolution_failures += 1,
            }
            if entry.ip.is_some() {
                entry.used = true;
                entry.used_at = now;
                match entry.state {
                    NeighborState::Incomplete => return Resolution::Hold,
                    NeighborState::Stale if entry.suspect => {
                        // Upper layers cannot help a suspect entry: probe.
                        entry.state = NeighborState::Probe;
                        entry.probes = 0;
                        entry.timer = now;
                        self.wake = self.wake.min(entry.next_action_at(&config));
                    }
                    NeighborState::Stale => {
                        entry.state = NeighborState::Delay;
                        entry.timer = now + config.delay_first_probe_time;
                        self.wake = self.wake.min(entry.timer);
                    }
                    _ => {}
                }
                return Resolution::Send(entry.mac);
            }
            // The resolution just failed; a new one starts below (the last
            // solicitation was `retrans_timer` ago).
        }
        let Some(index) = self.slot_for_new(now) else {
            self.stats.cache_full += 1;
            return Resolution::CacheFull;
        };
        if let Some(entry) = self.entries.get_mut(index) {
            *entry = Neighbor::new(ip, now);
            entry.used = true;
            entry.timer = now;
            self.wake = self.wake.min(now);
        }
        Resolution::Hold
    }

    /// The next solicitation due at `now`, if any: the caller sends it and
    /// reports it with [`solicitation_sent`](Self::solicitation_sent) (if
    /// it cannot send, it asks again later). Applies due timers, so failed
    /// resolutions are freed here.
    pub fn due_solicitation(&mut self, now: Instant) -> Option<Solicitation> {
        if now < self.wake {
            return None;
        }
        let config = self.config;
        let mut due = None;
        let mut wake = NO_DEADLINE;
        for entry in self.entries.iter_mut() {
            match entry.expire(now, &config) {
                Expiry::None => {}
                Expiry::Unreachable => self.stats.unreachable += 1,
                Expiry::Failed => self.stats.resolution_failures += 1,
            }
            if due.is_none() && entry.solicitation_due(now, &config) {
                if let Some(target) = entry.ip {
                    due = Some(Solicitation {
                        target,
                        unicast: (entry.state == NeighborState::Probe).then_some(entry.mac),
                    });
                }
            }
            if let Some(at) = entry.wake_at(&config) {
                wake = wake.min(at);
            }
        }
        self.wake = wake;
        due
    }

    /// Records that a solicitation for `target` went out at `now`: the
    /// next one is due `retrans_timer` later (or the round ends then).
    pub fn solicitation_sent(&mut self, target: IpAddress, now: Instant) {
        let retrans = self.config.retrans_timer;
        let Some(entry) = self.entry_mut(target) else {
            return;
        };
        entry.solicited_at = now;
        if matches!(
            entry.state,
            NeighborState::Incomplete | NeighborState::Probe
        ) {
            entry.probes = entry.probes.saturating_add(1);
            entry.timer = now + retrans;
        }
        // The wake may only move earlier here; `due_solicitation` moves it
        // later when it next scans.
    }

    /// When the cache next needs the interface (a solicitation due or a
    /// round ending), if ever.
    pub fn poll_at(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|entry| entry.wake_at(&self.config))
            .min()
    }

    /// Upper-layer advice (RFC 4861 section 7.3.1, RFC 1122 section
    /// 2.3.2.1): the path to `ip` works (TCP saw new data acknowledged), so
    /// a resolved entry becomes `Reachable` for ReachableTime. Ignored for
    /// an `Incomplete` entry and for a suspect one (see the module docs).
    /// Returns whether the entry was confirmed.
    pub fn confirm(&mut self, ip: IpAddress, now: Instant) -> bool {
        let config = self.config;
        let reachable = self.reachable_time;
        let Some(index) = self.index_of(ip) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return false;
        };
        match entry.expire(now, &config) {
            Expiry::None => {}
            Expiry::Unreachable => self.stats.unreachable += 1,
            Expiry::Failed => self.stats.resolution_failures += 1,
        }
        if entry.ip.is_none() || entry.state == NeighborState::Incomplete {
            return false;
        }
        if entry.suspect {
            self.stats.suspect_confirmations_ignored += 1;
            return false;
        }
        entry.state = NeighborState::Reachable;
        entry.probes = 0;
        entry.timer = now + reachable;
        self.stats.upper_layer_confirmations += 1;
        true
    }

    /// An answer to a solicitation of ours arrived: an ARP reply addressed
    /// to us, an NDP advertisement with the Solicited flag (RFC 4861
    /// section 7.2.5). If `ip` is being resolved or probed, the entry
    /// becomes `Reachable` at `mac`, no longer suspect; in any other state
    /// the message was not asked for and counts as
    /// [`learn`](Self::learn) without creating an entry. A probed entry
    /// answered from a different address is treated the same way: it
    /// becomes stale and suspect at the new address, probed again before it
    /// is believed.
    pub fn answer(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant) {
        if !Self::acceptable(ip, mac) {
            return;
        }
        let config = self.config;
        let reachable = self.reachable_time;
        let Some(index) = self.index_of(ip) else {
            // Not asked for: an unsolicited reply creates nothing.
            return;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        match entry.expire(now, &config) {
            Expiry::None => {}
            Expiry::Unreachable => self.stats.unreachable += 1,
            Expiry::Failed => self.stats.resolution_failures += 1,
        }
        let asked = match entry.state {
            NeighborState::Incomplete => entry.ip.is_some(),
            NeighborState::Probe => entry.mac == mac,
            _ => false,
        };
        if asked {
            entry.mac = mac;
            entry.state = NeighborState::Reachable;
            entry.suspect = false;
            entry.probes = 0;
            entry.timer = now + reachable;
            return;
        }
        self.learn_mapping(ip, mac, now, false);
    }

    /// A mapping received without being asked for, from a message that may
    /// create an entry (an ARP request for one of our addresses, RFC 826;
    /// an NDP solicitation's source link-layer option, RFC 4861 section
    /// 7.2.3). A new entry is `Stale`; an `Incomplete` one gets the address
    /// and becomes `Stale` (held packets can go); a resolved one with the
    /// same address is left alone; one with a different address takes it,
    /// becomes `Stale` and suspect.
    pub fn learn(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant) {
        self.learn_mapping(ip, mac, now, true);
    }

    /// Like [`learn`](Self::learn), but only for an address the cache
    /// already holds (RFC 826's merge of a message not addressed to us,
    /// such as a gratuitous ARP).
    pub fn update_known(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant) {
        self.learn_mapping(ip, mac, now, false);
    }

    /// Like [`learn`](Self::learn), but it never changes a resolved entry:
    /// for a sender learned from a packet addressed to us (saves an ARP
    /// round trip for the reply), which proves nothing about a mapping
    /// already held.
    pub fn learn_if_unresolved(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant) {
        match self.state(ip, now) {
            None | Some(NeighborState::Incomplete) => self.learn_mapping(ip, mac, now, true),
            Some(_) => {}
        }
    }

    /// Forgets every entry (and with them every rate limit).
    pub fn flush(&mut self) {
        for entry in self.entries.iter_mut() {
            *entry = Neighbor::default();
        }
        self.wake = NO_DEADLINE;
    }

    /// A peer must not be able to make us send unicast traffic to a group
    /// address, nor map a group address.
    fn acceptable(ip: IpAddress, mac: EthernetAddress) -> bool {
        let ok = mac.is_unicast() && ip.is_unicast();
        if !ok {
            net_debug!("neighbor: ignoring mapping {} -> {:?}", ip, mac);
        }
        ok
    }

    fn learn_mapping(&mut self, ip: IpAddress, mac: EthernetAddress, now: Instant, create: bool) {
        if !Self::acceptable(ip, mac) {
            return;
        }
        let config = self.config;
        let index = match self.index_of(ip) {
            Some(index) => index,
            None if create => {
                let Some(index) = self.slot_for_new(now) else {
                    self.stats.cache_full += 1;
                    return;
                };
                if let Some(entry) = self.entries.get_mut(index) {
                    *entry = Neighbor::new(ip, now);
                    entry.mac = mac;
                    entry.state = NeighborState::Stale;
                    entry.timer = NO_DEADLINE;
                }
                return;
            }
            None => return,
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        match entry.expire(now, &config) {
            Expiry::None => {}
            Expiry::Unreachable => self.stats.unreachable += 1,
            Expiry::Failed => {
                self.stats.resolution_failures += 1;
                if create {
                    *entry = Neighbor::new(ip, now);
                    entry.mac = mac;
                    entry.state = NeighborState::Stale;
                    entry.timer = NO_DEADLINE;
                }
                return;
            }
        }
        if entry.state == NeighborState::Incomplete {
            entry.mac = mac;
            entry.state = NeighborState::Stale;
            entry.suspect = false;
            entry.probes = 0;
            entry.timer = NO_DEADLINE;
        } else if entry.mac != mac {
            net_debug!(
                "neighbor: {} moved from {:?} to {:?}: stale, suspect",
                ip,
                entry.mac,
                mac
            );
            entry.mac = mac;
            entry.state = NeighborState::Stale;
            entry.suspect = true;
            entry.probes = 0;
            entry.timer = NO_DEADLINE;
            self.stats.address_changes += 1;
        }
    }

    /// The entry for `ip` as it stands at `now`, timers applied to a copy.
    fn current(&self, ip: IpAddress, now: Instant) -> Option<Neighbor> {
        let mut entry = *self.entries.iter().find(|e| e.ip == Some(ip))?;
        entry.expire(now, &self.config);
        entry.ip.is_some().then_some(entry)
    }

    fn index_of(&self, ip: IpAddress) -> Option<usize> {
        self.entries.iter().position(|e| e.ip == Some(ip))
    }

    fn entry_mut(&mut self, ip: IpAddress) -> Option<&mut Neighbor> {
        self.entries.iter_mut().find(|e| e.ip == Some(ip))
    }

    /// A slot for a new address at `now`: an empty one (timers applied, so
    /// failed resolutions are empty), else the least recently used
    /// evictable entry, entries never used to send first. `None` when every
    /// entry is a resolution in progress or rate limited.
    fn slot_for_new(&mut self, now: Instant) -> Option<usize> {
        let config = self.config;
        let mut victim: Option<(usize, (bool, Instant))> = None;
        for (index, entry) in self.entries.iter_mut().enumerate() {
            match entry.expire(now, &config) {
                Expiry::None => {}
                Expiry::Unreachable => self.stats.unreachable += 1,
                Expiry::Failed => self.stats.resolution_failures += 1,
            }
            if entry.ip.is_none() {
                return Some(index);
            }
            if entry.evictable(now, &config) {
                let key = (entry.used, entry.used_at);
                if victim.is_none_or(|(_, best)| key < best) {
                    victim = Some((index, key));
                }
            }
        }
        let (index, _) = victim?;
        if let Some(old) = self.entries.get(index).and_then(|e| e.ip) {
            net_debug!("neighbor: cache full, evicting {}", old);
        }
        self.stats.evictions += 1;
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec;
    use std::vec::Vec;

    const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
    const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
    const MAC_X: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xee]);

    fn ip(last: u8) -> IpAddress {
        IpAddress::v4(10, 0, 0, last)
    }

    fn secs(s: i64) -> Instant {
        Instant::from_secs(s)
    }

    fn ms(m: i64) -> Instant {
        Instant::from_millis(m)
    }

    fn cache(n: usize) -> NeighborCache<'static> {
        // Leaked borrowed storage: the tests run with and without `alloc`.
        NeighborCache::new(vec![Neighbor::default(); n].leak())
    }

    /// Sends every due solicitation at `now` (as the interface does) and
    /// returns them.
    fn solicit(c: &mut NeighborCache, now: Instant) -> Vec<Solicitation> {
        let mut sent = Vec::new();
        while let Some(s) = c.due_solicitation(now) {
            c.solicitation_sent(s.target, now);
            sent.push(s);
            assert!(sent.len() <= c.capacity(), "one per entry at most");
        }
        sent
    }

    fn broadcast(target: IpAddress) -> Solicitation {
        Solicitation {
            target,
            unicast: None,
        }
    }

    fn unicast(target: IpAddress, mac: EthernetAddress) -> Solicitation {
        Solicitation {
            target,
            unicast: Some(mac),
        }
    }

    /// A cache holding `ip(1)` -> MAC_A, `Reachable` since `at`.
    fn resolved_at(at: Instant) -> NeighborCache<'static> {
        let mut c = cache(4);
        assert_eq!(c.resolve(ip(1), at), Resolution::Hold);
        assert_eq!(solicit(&mut c, at), [broadcast(ip(1))]);
        c.answer(ip(1), MAC_A, at);
        assert_eq!(c.state(ip(1), at), Some(NeighborState::Reachable));
        c
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_storage() {
        let mut c = NeighborCache::new(vec![Neighbor::default(); 1]);
        c.learn(ip(1), MAC_A, Instant::ZERO);
        assert_eq!(c.lookup(ip(1), Instant::ZERO), Some(MAC_A));
    }

    #[test]
    fn rfc_4861_constants() {
        let c = NeighborConfig::default();
        assert_eq!(c.base_reachable_time, Duration::from_secs(30));
        assert_eq!(c.retrans_timer, Duration::from_secs(1));
        assert_eq!(c.delay_first_probe_time, Duration::from_secs(5));
        assert_eq!((c.max_unicast_solicit, c.max_multicast_solicit), (3, 3));
        assert_eq!(cache(1).reachable_time(), Duration::from_secs(30));
    }

    #[test]
    fn incomplete_solicits_every_retrans_timer_then_fails() {
        let mut c = cache(4);
        let t0 = ms(500);
        assert_eq!(c.state(ip(1), t0), None);
        assert_eq!(c.resolve(ip(1), t0), Resolution::Hold);
        assert_eq!(c.state(ip(1), t0), Some(NeighborState::Incomplete));
        assert_eq!(c.lookup(ip(1), t0), None);
        assert_eq!(c.poll_at(), Some(t0));
        assert_eq!(solicit(&mut c, t0), [broadcast(ip(1))]);
        // More packets are held, no second request within the second.
        assert_eq!(c.resolve(ip(1), t0), Resolution::Hold);
        assert_eq!(solicit(&mut c, ms(1_499)), []);
        assert_eq!(c.poll_at(), Some(ms(1_500)));
        assert_eq!(solicit(&mut c, ms(1_500)), [broadcast(ip(1))]);
        assert_eq!(solicit(&mut c, ms(2_500)), [broadcast(ip(1))]);
        // Three sent: the round ends a retransmission timer after the last.
        assert_eq!(c.poll_at(), Some(ms(3_500)));
        assert_eq!(c.state(ip(1), ms(3_499)), Some(NeighborState::Incomplete));
        assert_eq!(solicit(&mut c, ms(3_499)), []);
        assert_eq!(c.stats().resolution_failures, 0);
        assert_eq!(c.state(ip(1), ms(3_500)), None, "failed");
        assert_eq!(solicit(&mut c, ms(3_500)), []);
        assert_eq!(c.stats().resolution_failures, 1);
        assert_eq!(c.poll_at(), None);
        assert!(c.is_empty());
        // A new packet starts a new resolution at once: the last request
        // was a full retransmission timer ago.
        assert_eq!(c.resolve(ip(1), ms(3_500)), Resolution::Hold);
        assert_eq!(solicit(&mut c, ms(3_500)), [broadcast(ip(1))]);
    }

    #[test]
    fn answer_to_our_request_makes_reachable_for_reachable_time() {
        let t0 = secs(10);
        let mut c = resolved_at(t0);
        assert_eq!(c.lookup(ip(1), t0), Some(MAC_A));
        assert_eq!(c.resolve(ip(1), t0), Resolution::Send(MAC_A));
        assert_eq!(c.poll_at(), None, "nothing to do while reachable");
        let end = t0 + Duration::from_secs(30);
        assert_eq!(
            c.state(ip(1), end - Duration::from_micros(1)),
            Some(NeighborState::Reachable)
        );
        assert_eq!(c.state(ip(1), end), Some(NeighborState::Stale));
        // Stale still resolves; nothing is sent until a packet is.
        assert_eq!(c.lookup(ip(1), end), Some(MAC_A));
        assert_eq!(solicit(&mut c, end + Duration::from_secs(100)), []);
        assert_eq!(c.state(ip(1), secs(1_000)), Some(NeighborState::Stale));
    }

    #[test]
    fn stale_used_goes_delay_then_probes_by_unicast_then_broadcast() {
        let mut c = resolved_at(secs(0));
        let t = secs(40); // stale since 30 s
        assert_eq!(c.resolve(ip(1), t), Resolution::Send(MAC_A));
        assert_eq!(c.state(ip(1), t), Some(NeighborState::Delay));
        assert_eq!(c.poll_at(), Some(secs(45)));
        // Packets still go out to the cached address during the delay.
        assert_eq!(c.resolve(ip(1), secs(44)), Resolution::Send(MAC_A));
        assert_eq!(c.state(ip(1), secs(44)), Some(NeighborState::Delay));
        assert_eq!(solicit(&mut c, ms(44_999)), []);
        assert_eq!(c.state(ip(1), secs(45)), Some(NeighborState::Probe));
        assert_eq!(solicit(&mut c, secs(45)), [unicast(ip(1), MAC_A)]);
        assert_eq!(c.resolve(ip(1), secs(45)), Resolution::Send(MAC_A));
        assert_eq!(solicit(&mut c, ms(45_999)), []);
        assert_eq!(solicit(&mut c, secs(46)), [unicast(ip(1), MAC_A)]);
        assert_eq!(solicit(&mut c, secs(47)), [unicast(ip(1), MAC_A)]);
        assert_eq!(c.state(ip(1), ms(47_999)), Some(NeighborState::Probe));
        assert_eq!(c.stats().unreachable, 0);
        // Unanswered: resolved by broadcast again, packets held meanwhile.
        assert_eq!(c.state(ip(1), secs(48)), Some(NeighborState::Incomplete));
        assert_eq!(solicit(&mut c, secs(48)), [broadcast(ip(1))]);
        assert_eq!(c.stats().unreachable, 1);
        assert_eq!(c.resolve(ip(1), secs(48)), Resolution::Hold);
        assert_eq!(c.lookup(ip(1), secs(48)), None);
        c.answer(ip(1), MAC_B, ms(48_010));
        assert_eq!(c.state(ip(1), ms(48_010)), Some(NeighborState::Reachable));
        assert_eq!(c.resolve(ip(1), ms(48_010)), Resolution::Send(MAC_B));
        assert_eq!(c.stats().resolution_failures, 0);
    }

    #[test]
    fn probe_answered_becomes_reachable() {
        let mut c = resolved_at(secs(0));
        c.resolve(ip(1), secs(30)); // delay until 35
        assert_eq!(solicit(&mut c, secs(35)), [unicast(ip(1), MAC_A)]);
        c.answer(ip(1), MAC_A, ms(35_002));
        assert_eq!(c.state(ip(1), ms(35_002)), Some(NeighborState::Reachable));
        assert_eq!(c.poll_at(), None);
        assert_eq!(solicit(&mut c, secs(36)), []);
        assert_eq!(
            c.state(ip(1), ms(65_001)),
            Some(NeighborState::Reachable),
            "reachable for 30 s from the answer"
        );
        assert_eq!(c.state(ip(1), ms(65_002)), Some(NeighborState::Stale));
    }

    #[test]
    fn upper_layer_advice_confirms_in_every_resolved_state() {
        let mut c = resolved_at(secs(0));
        // Reachable: extends.
        assert!(c.confirm(ip(1), secs(20)));
        assert_eq!(c.state(ip(1), ms(49_999)), Some(NeighborState::Reachable));
        assert_eq!(c.state(ip(1), secs(50)), Some(NeighborState::Stale));
        // Stale: reachable again.
        assert!(c.confirm(ip(1), secs(60)));
        assert_eq!(c.state(ip(1), secs(60)), Some(NeighborState::Reachable));
        // Delay: reachable, no probe follows.
        c.resolve(ip(1), secs(95)); // stale since 90
        assert_eq!(c.state(ip(1), secs(95)), Some(NeighborState::Delay));
        assert!(c.confirm(ip(1), secs(97)));
        assert_eq!(solicit(&mut c, secs(100)), []);
        assert_eq!(c.state(ip(1), secs(100)), Some(NeighborState::Reachable));
        // Probe: reachable, probing stops.
        c.resolve(ip(1), secs(130)); // stale since 127
        assert_eq!(solicit(&mut c, secs(135)), [unicast(ip(1), MAC_A)]);
        assert!(c.confirm(ip(1), secs(135)));
        assert_eq!(solicit(&mut c, secs(140)), []);
        assert_eq!(c.state(ip(1), secs(140)), Some(NeighborState::Reachable));
        assert_eq!(c.stats().upper_layer_confirmations, 4);
        // Incomplete and unknown entries are not confirmed.
        assert!(!c.confirm(ip(2), secs(140)));
        c.resolve(ip(2), secs(140));
        assert!(!c.confirm(ip(2), secs(140)));
        assert_eq!(c.state(ip(2), secs(140)), Some(NeighborState::Incomplete));
    }

    #[test]
    fn unsolicited_learning() {
        let mut c = cache(4);
        let t = secs(5);
        // A request for us creates a stale entry: no solicitation needed.
        c.learn(ip(1), MAC_A, t);
        assert_eq!(c.state(ip(1), t), Some(NeighborState::Stale));
        assert!(!c.is_suspect(ip(1), t));
        assert_eq!(c.resolve(ip(1), t), Resolution::Send(MAC_A));
        assert_eq!(c.state(ip(1), t), Some(NeighborState::Delay));
        // Advice works for a new entry.
        assert!(c.confirm(ip(1), secs(6)));
        // The same address again changes nothing.
        c.learn(ip(1), MAC_A, secs(7));
        assert_eq!(c.state(ip(1), secs(7)), Some(NeighborState::Reachable));
        c.update_known(ip(1), MAC_A, secs(7));
        assert_eq!(c.state(ip(1), secs(7)), Some(NeighborState::Reachable));
        // Updates for unknown addresses create nothing.
        c.update_known(ip(2), MAC_B, secs(7));
        c.answer(ip(2), MAC_B, secs(7));
        assert_eq!(c.state(ip(2), secs(7)), None);
        // An incomplete entry takes the address and can send.
        c.resolve(ip(3), secs(8));
        c.learn_if_unresolved(ip(3), MAC_B, secs(8));
        assert_eq!(c.state(ip(3), secs(8)), Some(NeighborState::Stale));
        assert_eq!(c.resolve(ip(3), secs(8)), Resolution::Send(MAC_B));
        // ... but learning from a packet never changes a resolved entry.
        c.learn_if_unresolved(ip(3), MAC_X, secs(9));
        assert_eq!(c.lookup(ip(3), secs(9)), Some(MAC_B));
        assert!(!c.is_suspect(ip(3), secs(9)));
        assert_eq!(c.stats().address_changes, 0);
    }

    #[test]
    fn changed_address_is_suspect_ignores_advice_and_is_probed_at_once() {
        let mut c = resolved_at(secs(0));
        assert!(c.confirm(ip(1), secs(1)));
        // A forged reply (unsolicited: nothing was asked) moves the entry.
        c.answer(ip(1), MAC_X, secs(2));
        assert_eq!(c.state(ip(1), secs(2)), Some(NeighborState::Stale));
        assert!(c.is_suspect(ip(1), secs(2)));
        assert_eq!(c.lookup(ip(1), secs(2)), Some(MAC_X));
        assert_eq!(c.stats().address_changes, 1);
        // Acknowledgments for packets sent to the old address arrive: they
        // must not confirm the new one.
        assert!(!c.confirm(ip(1), secs(2)));
        assert_eq!(c.stats().suspect_confirmations_ignored, 1);
        // The next packet starts the probes, without the delay.
        assert_eq!(c.resolve(ip(1), ms(2_100)), Resolution::Send(MAC_X));
        assert_eq!(c.state(ip(1), ms(2_100)), Some(NeighborState::Probe));
        assert_eq!(solicit(&mut c, ms(2_100)), [unicast(ip(1), MAC_X)]);
        assert!(!c.confirm(ip(1), ms(2_500)));
        assert_eq!(solicit(&mut c, ms(3_100)), [unicast(ip(1), MAC_X)]);
        assert_eq!(solicit(&mut c, ms(4_100)), [unicast(ip(1), MAC_X)]);
        assert_eq!(c.lookup(ip(1), ms(5_099)), Some(MAC_X));
        // Unanswered: broadcast; the true owner answers.
        assert_eq!(solicit(&mut c, ms(5_100)), [broadcast(ip(1))]);
        assert_eq!(c.resolve(ip(1), ms(5_100)), Resolution::Hold);
        c.answer(ip(1), MAC_A, ms(5_101));
        assert_eq!(c.resolve(ip(1), ms(5_101)), Resolution::Send(MAC_A));
        assert!(!c.is_suspect(ip(1), ms(5_101)));
        assert!(c.confirm(ip(1), ms(5_200)));
    }

    #[test]
    fn suspect_cleared_by_answer_to_probe() {
        let mut c = resolved_at(secs(0));
        // A gratuitous ARP (a host really moved to MAC_B).
        c.update_known(ip(1), MAC_B, secs(3));
        assert!(c.is_suspect(ip(1), secs(3)));
        c.resolve(ip(1), secs(3));
        assert_eq!(solicit(&mut c, secs(3)), [unicast(ip(1), MAC_B)]);
        c.answer(ip(1), MAC_B, ms(3_001));
        assert_eq!(c.state(ip(1), ms(3_001)), Some(NeighborState::Reachable));
        assert!(!c.is_suspect(ip(1), ms(3_001)));
        assert!(c.confirm(ip(1), secs(4)));
    }

    #[test]
    fn probe_answered_from_another_address_is_probed_again() {
        let mut c = resolved_at(secs(0));
        c.resolve(ip(1), secs(30));
        assert_eq!(solicit(&mut c, secs(35)), [unicast(ip(1), MAC_A)]);
        // Our unicast probe went to MAC_A; an answer from MAC_X was not.
        c.answer(ip(1), MAC_X, ms(35_001));
        assert_eq!(c.state(ip(1), ms(35_001)), Some(NeighborState::Stale));
        assert!(c.is_suspect(ip(1), ms(35_001)));
        // The rate limit holds across the state change.
        c.resolve(ip(1), ms(35_002));
        assert_eq!(solicit(&mut c, ms(35_002)), []);
        assert_eq!(solicit(&mut c, secs(36)), [unicast(ip(1), MAC_X)]);
    }

    #[test]
    fn a_failed_round_and_its_restart_keep_the_rate_limit() {
        let mut c = cache(2);
        let mut sent = 0;
        // A packet every 100 ms for 10 s towards an address nobody has.
        for step in 0..100 {
            let now = ms(step * 100);
            c.resolve(ip(1), now);
            sent += solicit(&mut c, now).len();
        }
        // One request a second: 0, 1, 2 (round fails at 3), 3, 4, 5, ...
        assert_eq!(sent, 10);
        assert_eq!(c.stats().resolution_failures, 3);
    }

    #[test]
    fn full_cache_evicts_least_recently_used_resolved_entry() {
        let mut c = cache(3);
        c.learn(ip(1), MAC_A, secs(1));
        c.learn(ip(2), MAC_A, secs(2));
        c.learn(ip(3), MAC_A, secs(3));
        // 2 and 3 are used to send; 1 never is.
        c.resolve(ip(3), secs(4));
        c.resolve(ip(2), secs(5));
        // Never used goes first, though it is not the oldest use.
        c.learn(ip(4), MAC_B, secs(6));
        assert_eq!(c.state(ip(1), secs(6)), None);
        // Then the least recently used: 3 (used at 4) before 2 (at 5); the
        // new entry 4 is unused, so it would go first: use it.
        c.resolve(ip(4), secs(7));
        c.learn(ip(5), MAC_B, secs(8));
        assert_eq!(c.state(ip(3), secs(8)), None);
        assert_eq!(c.lookup(ip(2), secs(8)), Some(MAC_A));
        assert_eq!(c.lookup(ip(4), secs(8)), Some(MAC_B));
        assert_eq!(c.lookup(ip(5), secs(8)), Some(MAC_B));
        assert_eq!(c.stats().evictions, 2);
    }

    #[test]
    fn a_pending_resolution_is_never_evicted() {
        let mut c = cache(2);
        c.learn(ip(1), MAC_A, secs(0));
        assert_eq!(c.resolve(ip(9), secs(0)), Resolution::Hold);
        assert_eq!(solicit(&mut c, secs(0)), [broadcast(ip(9))]);
        // A flood of new senders churns the other slot only.
        for n in 10..60 {
            c.learn(ip(n), MAC_B, ms(10 * i64::from(n)));
            assert_eq!(
                c.state(ip(9), ms(10 * i64::from(n))),
                Some(NeighborState::Incomplete)
            );
        }
        assert_eq!(solicit(&mut c, ms(999)), []);
        assert_eq!(solicit(&mut c, secs(1)), [broadcast(ip(9))]);
        // With both slots resolving, a third resolution is refused and a
        // third mapping is not learned.
        assert_eq!(c.resolve(ip(8), secs(1)), Resolution::Hold);
        assert_eq!(solicit(&mut c, secs(1)), [broadcast(ip(8))]);
        assert_eq!(c.resolve(ip(7), secs(1)), Resolution::CacheFull);
        c.learn(ip(6), MAC_A, secs(1));
        assert_eq!(c.state(ip(6), secs(1)), None);
        assert_eq!(c.stats().cache_full, 2);
        assert_eq!(solicit(&mut c, secs(1)), []);
    }

    #[test]
    fn a_probing_entry_is_not_evicted_within_its_rate_limit() {
        let mut c = cache(1);
        c.learn(ip(1), MAC_A, secs(0));
        c.resolve(ip(1), secs(0)); // delay until 5
        assert_eq!(solicit(&mut c, secs(5)), [unicast(ip(1), MAC_A)]);
        // Within the second after the probe, the slot cannot be taken (a
        // new resolution of ip 1 could then broadcast at once).
        assert_eq!(c.resolve(ip(2), ms(5_500)), Resolution::CacheFull);
        c.learn(ip(3), MAC_B, ms(5_500));
        assert_eq!(c.state(ip(1), ms(5_500)), Some(NeighborState::Probe));
        // After it, it can.
        assert_eq!(c.resolve(ip(2), secs(6)), Resolution::Hold);
        assert_eq!(c.state(ip(1), secs(6)), None);
    }

    #[test]
    fn ignores_group_addresses() {
        let mut c = cache(2);
        let now = secs(1);
        c.learn(ip(1), EthernetAddress::BROADCAST, now);
        c.learn(ip(2), EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]), now);
        c.learn(IpAddress::v4(255, 255, 255, 255), MAC_A, now);
        c.learn(IpAddress::v4(0, 0, 0, 0), MAC_A, now);
        assert!(c.is_empty());
        // A resolution answered from a group address stays incomplete.
        c.resolve(ip(3), now);
        c.answer(ip(3), EthernetAddress::BROADCAST, now);
        assert_eq!(c.state(ip(3), now), Some(NeighborState::Incomplete));
    }

    #[test]
    fn config_and_reachable_time() {
        let mut c = cache(2);
        let config = NeighborConfig {
            retrans_timer: Duration::from_millis(250),
            max_multicast_solicit: 2,
            ..NeighborConfig::default()
        };
        c.set_config(config);
        c.set_reachable_time(Duration::from_secs(10));
        assert_eq!(c.config().retrans_timer, Duration::from_millis(250));
        c.resolve(ip(1), secs(0));
        assert_eq!(solicit(&mut c, secs(0)).len(), 1);
        assert_eq!(solicit(&mut c, ms(249)).len(), 0);
        assert_eq!(solicit(&mut c, ms(250)).len(), 1);
        assert_eq!(c.state(ip(1), ms(500)), None, "two were the limit");
        c.resolve(ip(1), secs(1));
        solicit(&mut c, secs(1));
        c.answer(ip(1), MAC_A, secs(1));
        assert_eq!(c.state(ip(1), ms(10_999)), Some(NeighborState::Reachable));
        assert_eq!(c.state(ip(1), secs(11)), Some(NeighborState::Stale));
    }

    #[test]
    fn flush_and_zero_capacity() {
        let mut c = cache(2);
        let now = secs(1);
        c.learn(ip(1), MAC_A, now);
        c.resolve(ip(2), now);
        assert_eq!(c.len(), 2);
        c.flush();
        assert_eq!(c.lookup(ip(1), now), None);
        assert_eq!(c.state(ip(2), now), None);
        assert_eq!(c.poll_at(), None);
        let mut storage: [Neighbor; 0] = [];
        let mut none = NeighborCache::new(&mut storage[..]);
        none.learn(ip(1), MAC_A, now);
        assert_eq!(none.resolve(ip(1), now), Resolution::CacheFull);
        assert_eq!(none.due_solicitation(now), None);
        assert_eq!(none.capacity(), 0);
        assert_eq!(none.lookup(ip(1), now), None);
    }

    #[test]
    fn clock_running_backwards_sends_no_burst() {
        let mut c = cache(2);
        c.resolve(ip(1), secs(10));
        assert_eq!(solicit(&mut c, secs(10)).len(), 1);
        assert_eq!(solicit(&mut c, secs(5)).len(), 0);
        assert_eq!(c.resolve(ip(1), secs(5)), Resolution::Hold);
        assert_eq!(solicit(&mut c, secs(11)).len(), 1);
    }
}
