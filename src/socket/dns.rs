//! A DNS stub resolver (RFC 1035) as a sans-IO state machine: A queries,
//! and AAAA (RFC 3596) in builds with IPv6, over UDP to a list of servers.
//!
//! The application starts a query by name; the resolver hands out query
//! datagrams to send (the server's endpoint, bytes written into the
//! caller's buffer), takes in the datagrams that arrive, and keeps each
//! query's outcome until the application collects it. Queries live in a
//! bounded table the caller provides (no allocation).
//!
//! Each query goes to one server at a time. Without an answer after the
//! timeout it goes to the next server (rotation); after each round over
//! the servers the timeout doubles, and after [`ROUNDS`] rounds the query
//! fails with [`DnsError::Timeout`]. A server that answers SERVFAIL,
//! REFUSED or NOTIMP is skipped for the rest of the query. Answers are
//! accepted only from a configured server's port 53, with the query's id
//! and question (RFC 5452 section 9.1); ids come from the stack's seed,
//! unpredictable to others (RFC 5452 section 9.2). The resolver sends from
//! one local port, which the caller chooses (a random one helps, RFC 5452
//! section 9.2).

use managed::ManagedSlice;

use crate::socket::{Context, DatagramOut, IcmpErrorReport, Packet, PollAt};
use crate::storage::siphash::{SipKey, siphash24};
use crate::time::{Duration, Instant};
use crate::wire::dns::{
    DnsPacket, DnsQueryRepr, DnsRcode, DnsRecordData, DnsRecordType, DnsRepr, MAX_NAME_LEN, PORT,
};
use crate::wire::{Error as WireError, IpAddress, IpEndpoint, IpRepr, UdpRepr};

/// The most servers the resolver asks.
pub const MAX_SERVERS: usize = 4;
/// The most addresses kept from one answer.
pub const MAX_ADDRESSES: usize = 4;
/// The timeout of a query's first round over the servers; it doubles each
/// round.
pub const INITIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// How many rounds over the servers a query makes before it fails.
pub const ROUNDS: u32 = 3;
/// The longest query message: header, a name of 255 bytes, type and class.
pub const MAX_QUERY_LEN: usize = 12 + MAX_NAME_LEN + 4;

/// The record type a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsQueryType {
    /// IPv4 addresses (type A).
    A,
    /// IPv6 addresses (type AAAA).
    #[cfg(feature = "proto-ipv6")]
    Aaaa,
}

impl DnsQueryType {
    fn record_type(self) -> DnsRecordType {
        match self {
            DnsQueryType::A => DnsRecordType::A,
            #[cfg(feature = "proto-ipv6")]
            DnsQueryType::Aaaa => DnsRecordType::Aaaa,
        }
    }
}

/// Why a query failed, or why it has no result yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsError {
    /// The query is still waiting for an answer.
    Pending,
    /// The handle names no query (taken already, cancelled, or never
    /// started).
    InvalidHandle,
    /// The name does not exist (NXDOMAIN).
    NameNotFound,
    /// The name exists but has no record of the type asked for (after its
    /// CNAME chain).
    NoRecords,
    /// Every server failed: the last one's response code (SERVFAIL,
    /// REFUSED, NOTIMP, FORMERR).
    ServerFailure(DnsRcode),
    /// No answer after every round over the servers.
    Timeout,
    /// Every server is unreachable: ICMP destination unreachable errors
    /// (port, host or network) came back for each.
    Unreachable,
    /// The answer was truncated (TC) and held no usable address: the full
    /// answer needs TCP, which this resolver does not speak.
    Truncated,
    /// The server's answer was malformed: a compression pointer forward,
    /// out of range or into a loop, a bad label, a record cut short.
    Malformed(WireError),
}

impl core::fmt::Display for DnsError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            DnsError::Pending => f.write_str("query pending"),
            DnsError::InvalidHandle => f.write_str("no such query"),
            DnsError::NameNotFound => f.write_str("name not found"),
            DnsError::NoRecords => f.write_str("no address records for the name"),
            DnsError::ServerFailure(rcode) => {
                write!(f, "server failure (rcode {})", u8::from(*rcode))
            }
            DnsError::Timeout => f.write_str("no answer from any DNS server"),
            DnsError::Unreachable => f.write_str("every DNS server unreachable"),
            DnsError::Truncated => f.write_str("answer truncated (needs TCP)"),
            DnsError::Malformed(err) => write!(f, "malformed answer: {err}"),
        }
    }
}

/// Why a query could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DnsStartError {
    /// No server is configured.
    NoServers,
    /// Every slot of the query table is in use.
    TableFull,
    /// The name is not a valid DNS name: an empty label, a label over 63
    /// bytes, or over 255 bytes encoded.
    InvalidName,
}

impl core::fmt::Display for DnsStartError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str(match self {
            DnsStartError::NoServers => "no DNS server configured",
            DnsStartError::TableFull => "DNS query table full",
            DnsStartError::InvalidName => "invalid DNS name",
        })
    }
}

/// A successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DnsAnswer {
    addresses: [IpAddress; MAX_ADDRESSES],
    len: usize,
    /// The smallest TTL of the address records, in seconds.
    pub ttl: u32,
    /// Whether the server set TC: more addresses may exist than it sent.
    pub truncated: bool,
    /// How many CNAME records the answer followed to the addresses.
    pub cname_hops: usize,
}

impl DnsAnswer {
    /// The addresses, in the server's order (the first [`MAX_ADDRESSES`]).
    pub fn addresses(&self) -> &[IpAddress] {
        &self.addresses[..self.len]
    }
}

/// A query datagram [`DnsSocket::dispatch`] asks to send: `len` bytes at
/// the start of the buffer, to `dst` (a server's port 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DnsTransmit {
    /// The server.
    pub dst: IpEndpoint,
    /// The payload length.
    pub len: usize,
}

/// A query in the table, named by its slot and its id (so a handle kept
/// after its query ended names nothing rather than a later query).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DnsQueryHandle {
    slot: usize,
    id: u16,
}

/// Counters of what the resolver dropped, for diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DnsStats {
    /// Datagrams shorter than a header, or not responses.
    pub rx_malformed: u64,
    /// Responses from no configured server, for no query in flight, or
    /// with another question (spoofing or late answers).
    pub rx_unmatched: u64,
    /// Queries sent again, to the same or the next server.
    pub retransmissions: u64,
}

/// What [`DnsSocket::next_due`] changed, to put back when a copy cannot go.
#[derive(Debug, Clone, Copy)]
struct Undo {
    outcome: Outcome,
    stats: DnsStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending {
        /// The server index the last copy went to.
        server: usize,
        /// Copies sent so far.
        sent: u32,
        /// Rounds over the servers begun (the first copy begins round 1).
        rounds: u32,
        /// When the next copy goes out (to the next server).
        next_send: Instant,
        /// Servers that answered with a failure code, by index.
        failed: u8,
    },
    Done(Result<DnsAnswer, DnsError>),
}

/// One slot of the query table: see [`DnsSocket::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsQuery {
    message: [u8; MAX_QUERY_LEN],
    len: usize,
    /// The id of the message in flight (a restart draws a new one).
    id: u16,
    /// The id the query started with: its handle's.
    handle_id: u16,
    /// CNAME records followed in earlier answers (restarts included).
    hops: usize,
    qtype: DnsQueryType,
    outcome: Outcome,
}

/// A DNS stub resolver: see the module documentation.
#[derive(Debug)]
pub struct DnsSocket<'a> {
    servers: [IpAddress; MAX_SERVERS],
    server_count: usize,
    queries: ManagedSlice<'a, Option<DnsQuery>>,
    key: SipKey,
    draws: u64,
    stats: DnsStats,
    local_port: u16,
    key_version: u32,
}

impl<'a> DnsSocket<'a> {
    /// A resolver asking `servers` (the first [`MAX_SERVERS`]), with the
    /// query table `queries` (one slot per query in flight, e.g.
    /// `[None; 4]` or a `Vec`) and its query ids drawn from
    /// `random_seed`, the stack's seed (the interface `Config`'s).
    pub fn new<Q>(servers: &[IpAddress], queries: Q, random_seed: u128) -> DnsSocket<'a>
    where
        Q: Into<ManagedSlice<'a, Option<DnsQuery>>>,
    {
        let seed_key = SipKey::from_bytes(random_seed.to_le_bytes());
        let key = SipKey([
            siphash24(&seed_key, b"pollnet dns id k0"),
            siphash24(&seed_key, b"pollnet dns id k1"),
        ]);
        let mut socket = DnsSocket {
            servers: [IpAddress::Ipv4(crate::wire::Ipv4Address::UNSPECIFIED); MAX_SERVERS],
            server_count: 0,
            queries: queries.into(),
            key,
            draws: 0,
            stats: DnsStats::default(),
            local_port: 0,
            key_version: 0,
        };
        socket.local_port = 49152 | socket.draw_u16();
        socket.set_servers(servers);
        socket
    }

    /// Replaces the servers (e.g. with a DHCP lease's), keeping the first
    /// [`MAX_SERVERS`] unicast ones. Queries in flight use the new list
    /// from their next copy.
    pub fn set_servers(&mut self, servers: &[IpAddress]) {
        self.server_count = 0;
        for server in servers.iter().filter(|s| s.is_unicast()) {
            if self.server_count == MAX_SERVERS {
                break;
            }
            self.servers[self.server_count] = *server;
            self.server_count += 1;
        }
    }

    /// Replaces the servers with IPv4 ones, e.g. a DHCP lease's
    /// `dns_servers` (see [`set_servers`](Self::set_servers)).
    pub fn set_ipv4_servers(&mut self, servers: &[crate::wire::Ipv4Address]) {
        let mut list = [IpAddress::Ipv4(crate::wire::Ipv4Address::UNSPECIFIED); MAX_SERVERS];
        for (slot, server) in list.iter_mut().zip(servers) {
            *slot = IpAddress::Ipv4(*server);
        }
        self.set_servers(&list[..servers.len().min(MAX_SERVERS)]);
    }

    /// The servers.
    pub fn servers(&self) -> &[IpAddress] {
        &self.servers[..self.server_count]
    }

    /// The counters.
    pub fn stats(&self) -> DnsStats {
        self.stats
    }

    /// Starts a query for `name` (dotted text, a trailing dot allowed; no
    /// search domains are appended): its first copy goes out at the next
    /// dispatch.
    pub fn start_query(
        &mut self,
        now: Instant,
        name: &str,
        qtype: DnsQueryType,
    ) -> Result<DnsQueryHandle, DnsStartError> {
        if self.server_count == 0 {
            return Err(DnsStartError::NoServers);
        }
        let slot = self
            .queries
            .iter()
            .position(Option::is_none)
            .ok_or(DnsStartError::TableFull)?;
        let id = self.fresh_id();
        let repr = DnsQueryRepr {
            id,
            recursion_desired: true,
            name,
            qtype: qtype.record_type(),
        };
        let mut message = [0u8; MAX_QUERY_LEN];
        let len = repr.buffer_len();
        if len > MAX_QUERY_LEN {
            return Err(DnsStartError::InvalidName);
        }
        repr.emit(&mut DnsPacket::new_unchecked(&mut message[..]))
            .map_err(|_| DnsStartError::InvalidName)?;
        self.queries[slot] = Some(DnsQuery {
            message,
            len,
            id,
            handle_id: id,
            hops: 0,
            qtype,
            outcome: Outcome::Pending {
                server: 0,
                sent: 0,
                rounds: 0,
                next_send: now,
                failed: 0,
            },
        });
        Ok(DnsQueryHandle { slot, id })
    }

    /// The query's outcome: `Err(Pending)` while it waits; otherwise its
    /// answer or error, and the slot is freed.
    pub fn get_query_result(&mut self, handle: DnsQueryHandle) -> Result<DnsAnswer, DnsError> {
        let slot = self.slot_mut(handle)?;
        let Some(query) = slot else {
            return Err(DnsError::InvalidHandle);
        };
        match query.outcome {
            Outcome::Pending { .. } => Err(DnsError::Pending),
            Outcome::Done(result) => {
                *slot = None;
                result
            }
        }
    }

    /// Ends a query and frees its slot; answers that arrive for it later
    /// are dropped.
    pub fn cancel_query(&mut self, handle: DnsQueryHandle) -> Result<(), DnsError> {
        let slot = self.slot_mut(handle)?;
        *slot = None;
        Ok(())
    }

    fn slot_mut(&mut self, handle: DnsQueryHandle) -> Result<&mut Option<DnsQuery>, DnsError> {
        match self.queries.get_mut(handle.slot) {
            Some(slot) if slot.as_ref().is_some_and(|q| q.handle_id == handle.id) => Ok(slot),
            _ => Err(DnsError::InvalidHandle),
        }
    }

    /// When the resolver next needs [`dispatch`](Self::dispatch): the
    /// earliest copy due, or `None` without a query waiting.
    pub fn poll_at(&self) -> Option<Instant> {
        self.queries
            .iter()
            .flatten()
            .filter_map(|q| match q.outcome {
                Outcome::Pending { next_send, .. } => Some(next_send),
                Outcome::Done(_) => None,
            })
            .min()
    }

    /// Writes the next query copy that is due at `now` into `buffer`
    /// ([`MAX_QUERY_LEN`] bytes always suffice); `None` when nothing is
    /// due (or the buffer is too short, which leaves the copy due). A
    /// query whose rounds are over fails with [`DnsError::Timeout`] here.
    /// Call it until it returns `None`.
    pub fn dispatch(&mut self, now: Instant, buffer: &mut [u8]) -> Option<DnsTransmit> {
        let (slot, undo, dst) = self.next_due(now, buffer.len())?;
        let Some(query) = self.queries.get(slot).copied().flatten() else {
            self.undo(slot, undo);
            return None;
        };
        buffer[..query.len].copy_from_slice(&query.message[..query.len]);
        Some(DnsTransmit {
            dst,
            len: query.len,
        })
    }

    /// Moves the first query with a copy due at `now` (and at most
    /// `max_len` bytes long) to its next copy; returns its slot, what to
    /// restore if the copy cannot go, and the server it goes to. Queries
    /// whose rounds are over fail on the way.
    fn next_due(&mut self, now: Instant, max_len: usize) -> Option<(usize, Undo, IpEndpoint)> {
        let server_count = self.server_count;
        let stats = self.stats;
        for (slot, entry) in self.queries.iter_mut().enumerate() {
            let Some(query) = entry else {
                continue;
            };
            let Outcome::Pending {
                server,
                sent,
                rounds,
                next_send,
                failed,
            } = query.outcome
            else {
                continue;
            };
            if next_send > now || query.len > max_len {
                continue;
            }
            // The first copy goes to the first server; each later one to
            // the next server that has not failed. Coming back to (or
            // past) the last server asked begins a round.
            let target = if sent == 0 {
                next_live(server_count, failed, server_count.wrapping_sub(1))
            } else {
                next_live(server_count, failed, server)
            };
            let rounds = if sent == 0 || target <= server {
                rounds + 1
            } else {
                rounds
            };
            if live_servers(server_count, failed) == 0 || rounds > ROUNDS {
                query.outcome = Outcome::Done(Err(DnsError::Timeout));
                continue;
            }
            let undo = Undo {
                outcome: query.outcome,
                stats,
            };
            let timeout = INITIAL_TIMEOUT.saturating_mul(1 << (rounds - 1).min(16));
            query.outcome = Outcome::Pending {
                server: target,
                sent: sent + 1,
                rounds,
                next_send: now + timeout,
                failed,
            };
            if sent > 0 {
                self.stats.retransmissions += 1;
            }
            return Some((slot, undo, IpEndpoint::new(self.servers[target], PORT)));
        }
        None
    }

    fn undo(&mut self, slot: usize, undo: Undo) {
        if let Some(Some(query)) = self.queries.get_mut(slot) {
            query.outcome = undo.outcome;
        }
        self.stats = undo.stats;
    }

    /// The local UDP port queries go from: drawn from the seed in the
    /// dynamic range (49152 to 65535, RFC 6335) unless set.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// Sets the local port (before the resolver joins a socket set, or
    /// it moves there at the next poll). Port 0 is refused (ignored).
    pub fn set_local_port(&mut self, port: u16) {
        if port != 0 && port != self.local_port {
            self.local_port = port;
            self.key_version = self.key_version.wrapping_add(1);
        }
    }

    pub(crate) fn key_version(&self) -> u32 {
        self.key_version
    }

    /// [`poll_at`](Self::poll_at) for the socket set.
    pub(crate) fn poll_at_cx(&self, cx: &Context) -> PollAt {
        match self.poll_at() {
            Some(at) if at <= cx.now => PollAt::Now,
            Some(at) => PollAt::Time(at),
            None => PollAt::Ingress,
        }
    }

    /// [`dispatch`](Self::dispatch) for the socket set: the query copy due
    /// goes to `emit` straight from the table; if `emit` fails (the device
    /// is busy) the query is as before and goes at the next turn.
    pub(crate) fn dispatch_packet<E>(
        &mut self,
        cx: &mut Context,
        emit: &mut impl FnMut(&mut Context, Packet<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some((slot, undo, dst)) = self.next_due(cx.now, MAX_QUERY_LEN) else {
            return Ok(false);
        };
        let Some(Some(query)) = self.queries.get(slot) else {
            return Ok(false);
        };
        let out = DatagramOut {
            src_addr: None,
            src_port: self.local_port,
            dst,
            hop_limit: None,
            payload: &query.message[..query.len],
        };
        match emit(cx, Packet::Udp(out)) {
            Ok(()) => Ok(true),
            Err(err) => {
                self.undo(slot, undo);
                Err(err)
            }
        }
    }

    /// An ICMP error about a query sent to `report.remote` (RFC 1122
    /// section 4.1.3.3: a destination unreachable for a server's port 53
    /// says that server cannot answer): each query whose last copy went
    /// there moves on to the next server at once, skipping this one from
    /// then on, and fails with [`DnsError::Unreachable`] when no server is
    /// left. Other errors (time exceeded) are left to the retransmission
    /// timer.
    pub fn on_icmp_error(&mut self, report: IcmpErrorReport) {
        if report.remote.port != PORT
            || !matches!(report.kind, crate::socket::IcmpErrorKind::DstUnreachable(_))
        {
            return;
        }
        let Some(index) = self.servers().iter().position(|s| *s == report.remote.addr) else {
            return;
        };
        let server_count = self.server_count;
        for query in self.queries.iter_mut().flatten() {
            let Outcome::Pending {
                server,
                sent,
                rounds,
                failed,
                ..
            } = query.outcome
            else {
                continue;
            };
            if sent == 0 || server != index {
                continue;
            }
            let failed = failed | (1 << index);
            query.outcome = if live_servers(server_count, failed) == 0 {
                Outcome::Done(Err(DnsError::Unreachable))
            } else {
                Outcome::Pending {
                    server,
                    sent,
                    rounds,
                    next_send: report.at,
                    failed,
                }
            };
        }
    }

    /// A datagram the set found for the resolver's port.
    pub(crate) fn process_udp(&mut self, cx: &mut Context, ip: &IpRepr, repr: &UdpRepr) -> bool {
        self.process(
            cx.now,
            IpEndpoint::new(ip.src_addr, repr.src_port),
            repr.payload,
        );
        true
    }

    /// Takes in a datagram that arrived from `src` on the resolver's port.
    pub fn process(&mut self, now: Instant, src: IpEndpoint, payload: &[u8]) {
        let Ok(packet) = DnsPacket::new_checked(payload) else {
            self.stats.rx_malformed += 1;
            return;
        };
        if !packet.is_response() {
            self.stats.rx_malformed += 1;
            return;
        }
        let server_index = self.servers().iter().position(|s| *s == src.addr);
        let (Some(server_index), PORT) = (server_index, src.port) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        let id = packet.id();
        let server_count = self.server_count;
        let Some(slot) = self.queries.iter().position(|q| {
            q.as_ref()
                .is_some_and(|q| q.id == id && matches!(q.outcome, Outcome::Pending { .. }))
        }) else {
            self.stats.rx_unmatched += 1;
            return;
        };
        // Drawn now, used if the answer calls for a restart.
        let restart_id = self.fresh_id();
        let Some(Some(query)) = self.queries.get_mut(slot) else {
            return;
        };
        let Outcome::Pending {
            server,
            sent,
            rounds,
            failed,
            ..
        } = query.outcome
        else {
            return;
        };
        let repr = match DnsRepr::parse(&packet) {
            Ok(repr) => repr,
            Err(err) => {
                query.outcome = Outcome::Done(Err(DnsError::Malformed(err)));
                return;
            }
        };
        // The question must be ours (RFC 5452 section 9.1): the name as
        // sent, the type, class IN.
        let ours = repr.counts()[0] == 1
            && repr.question().is_some_and(|q| {
                q.qtype == query.qtype.record_type()
                    && q.qclass == crate::wire::dns::CLASS_IN
                    && q.name.eq_uncompressed(&query.message[12..query.len - 4])
            });
        if !ours {
            self.stats.rx_unmatched += 1;
            return;
        }
        let result = match repr.rcode {
            DnsRcode::NoError => match answer(&repr, query.qtype, query.hops) {
                // An alias without its target's addresses: ask again for
                // the canonical name (RFC 1034 section 5.3.3, step 3b).
                Err(DnsError::NoRecords)
                    if query.hops < crate::wire::dns::MAX_CNAME_CHAIN
                        && restart(query, &repr, restart_id, now) =>
                {
                    return;
                }
                other => other,
            },
            DnsRcode::NameError => Err(DnsError::NameNotFound),
            rcode => {
                // This server cannot help: ask the next one now, or fail
                // when none is left.
                let failed = failed | (1 << server_index);
                if live_servers(server_count, failed) == 0 {
                    Err(DnsError::ServerFailure(rcode))
                } else {
                    query.outcome = Outcome::Pending {
                        server,
                        sent,
                        rounds,
                        next_send: now,
                        failed,
                    };
                    return;
                }
            }
        };
        net_debug!("dns: query {:#06x} done: {:?}", id, result);
        query.outcome = Outcome::Done(result);
    }

    /// An id no query in flight has, so answers match one query (and no
    /// handle of a query in the table).
    fn fresh_id(&mut self) -> u16 {
        let mut id = self.draw_u16();
        for _ in 0..self.queries.len() {
            if !self
                .queries
                .iter()
                .flatten()
                .any(|q| q.id == id || q.handle_id == id)
            {
                break;
            }
            id = self.draw_u16();
        }
        id
    }

    fn draw_u16(&mut self) -> u16 {
        self.draws += 1;
        siphash24(&self.key, &self.draws.to_le_bytes()) as u16
    }
}

/// The servers among the first `count` not in `failed`.
fn live_servers(count: usize, failed: u8) -> usize {
    (0..count).filter(|i| failed & (1 << i) == 0).count()
}

/// The first server after `from` (cyclically) not in `failed`; 0 if none
/// (the caller then fails the query).
fn next_live(count: usize, failed: u8, from: usize) -> usize {
    (1..=count)
        .map(|step| from.wrapping_add(step) % count)
        .find(|i| failed & (1 << i) == 0)
        .unwrap_or(0)
}

/// Turns `query` into one for the canonical name `repr`'s CNAME chain
/// reached, with id `id`, due at `now`; `false` (nothing changed) if the
/// chain went nowhere.
fn restart(query: &mut DnsQuery, repr: &DnsRepr, id: u16, now: Instant) -> bool {
    let Some(question) = repr.question() else {
        return false;
    };
    // The chain's end is known once it has been walked.
    let mut chain = repr.resolve(question.name);
    chain.by_ref().for_each(drop);
    let canonical = chain.canonical_name();
    let hops = cname_hops(repr, question.name, canonical);
    // Nowhere to go, or the chain did not end in this answer (a loop, or
    // longer than the bound): no restart.
    let continues = repr
        .answers()
        .any(|r| r.name == canonical && matches!(r.data, DnsRecordData::Cname(_)));
    if hops == 0 || continues {
        return false;
    }
    let mut message = [0u8; MAX_QUERY_LEN];
    // The header: the id, RD, one question.
    message[0..2].copy_from_slice(&id.to_be_bytes());
    message[2] = 0x01;
    message[5] = 1;
    let Ok(name_len) = canonical.copy_uncompressed(&mut message[12..MAX_QUERY_LEN - 4]) else {
        return false;
    };
    let end = 12 + name_len;
    message[end..end + 2].copy_from_slice(&u16::from(query.qtype.record_type()).to_be_bytes());
    message[end + 2..end + 4].copy_from_slice(&crate::wire::dns::CLASS_IN.to_be_bytes());
    net_debug!("dns: query {:#06x} restarts for {}", query.id, canonical);
    query.message = message;
    query.len = end + 4;
    query.id = id;
    query.hops += hops;
    query.outcome = Outcome::Pending {
        server: 0,
        sent: 0,
        rounds: 0,
        next_send: now,
        failed: 0,
    };
    true
}

/// How many CNAME records lead from `from` to `to` in the answers.
fn cname_hops(
    repr: &DnsRepr,
    from: crate::wire::dns::DnsName,
    to: crate::wire::dns::DnsName,
) -> usize {
    let mut hops = 0;
    let mut at = from;
    while at != to && hops < crate::wire::dns::MAX_CNAME_CHAIN {
        let Some(next) = repr.answers().find_map(|r| match r.data {
            DnsRecordData::Cname(target) if r.name == at => Some(target),
            _ => None,
        }) else {
            break;
        };
        at = next;
        hops += 1;
    }
    hops
}

/// The addresses for the question's name through its CNAME chain, with
/// `earlier_hops` CNAME records followed in earlier answers.
fn answer(repr: &DnsRepr, qtype: DnsQueryType, earlier_hops: usize) -> Result<DnsAnswer, DnsError> {
    let Some(question) = repr.question() else {
        return Err(DnsError::NoRecords);
    };
    let mut found = DnsAnswer {
        addresses: [IpAddress::Ipv4(crate::wire::Ipv4Address::UNSPECIFIED); MAX_ADDRESSES],
        len: 0,
        ttl: u32::MAX,
        truncated: repr.truncated,
        cname_hops: 0,
    };
    let mut chain = repr.resolve(question.name);
    for record in chain.by_ref() {
        let address = match (record.data, qtype) {
            (DnsRecordData::A(addr), DnsQueryType::A) => IpAddress::Ipv4(addr),
            #[cfg(feature = "proto-ipv6")]
            (DnsRecordData::Aaaa(addr), DnsQueryType::Aaaa) => IpAddress::Ipv6(addr),
            _ => continue,
        };
        if found.len < MAX_ADDRESSES {
            found.addresses[found.len] = address;
            found.len += 1;
        }
        found.ttl = found.ttl.min(record.ttl);
    }
    found.cname_hops = earlier_hops + cname_hops(repr, question.name, chain.canonical_name());
    if found.len > 0 {
        Ok(found)
    } else if repr.truncated {
        Err(DnsError::Truncated)
    } else {
        Err(DnsError::NoRecords)
    }
}

#[cfg(test)]
mod tests;
