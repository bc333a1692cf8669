//! The set's side of UDP and ICMP echo sockets: O(1) demultiplexing of
//! datagrams and ICMP errors, and the checks the interface makes when it
//! binds one.
//!
//! A unicast datagram goes to one socket: its connected 4-tuple, else its
//! exact bound endpoint, else the wildcard on its port (three exact-key
//! lookups). A broadcast goes to every socket bound on its port that
//! takes it: the wildcard, the broadcast address itself, and each of our
//! addresses the broadcast reaches; at most `2 + MAX_IP_ADDRS` lookups,
//! since no two sockets share a bound endpoint.

use super::demux::{DemuxKey, Target};
use super::{SocketHandle, SocketSet};
use crate::socket::{Context, IcmpErrorReport, Socket};
use crate::wire::{IpAddress, IpEndpoint, IpListenEndpoint, IpRepr, UdpRepr};

/// What became of a datagram handed to [`SocketSet::process_udp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UdpDelivery {
    /// A socket queued it.
    Queued,
    /// A socket has its endpoint but dropped it (queue full, or from
    /// another peer than a connected socket's).
    Dropped,
    /// No socket has its endpoint (the interface may answer with a port
    /// unreachable).
    NoSocket,
}

/// What became of a broadcast datagram handed to
/// [`SocketSet::process_udp_broadcast`]: how many sockets queued it and
/// how many had its endpoint but dropped it (none of either: no socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UdpFanout {
    /// Sockets that queued a copy.
    pub(crate) queued: u32,
    /// Sockets that dropped it (queue full).
    pub(crate) dropped: u32,
}

impl<'a> SocketSet<'a> {
    /// The slot of the socket a datagram from `remote` to `local` is for:
    /// a connected 4-tuple first, then the exact bound endpoint, then the
    /// wildcard on the port. Three exact-key lookups at most.
    fn udp_owner(&self, local: IpEndpoint, remote: IpEndpoint) -> Option<usize> {
        let keys = [
            DemuxKey::udp_connection(local, remote),
            DemuxKey::udp_bound(IpListenEndpoint {
                addr: Some(local.addr),
                port: local.port,
            }),
            DemuxKey::udp_bound(IpListenEndpoint {
                addr: None,
                port: local.port,
            }),
        ];
        keys.iter().find_map(|key| match self.lookup(key)? {
            Target::Socket(index) => Some(index),
            // Records are TCP's alone.
            Target::HalfOpen(_) | Target::TimeWait(_) => None,
        })
    }

    /// Hands a UDP datagram (already checked by the interface) to the
    /// socket bound to its destination.
    pub(crate) fn process_udp(
        &mut self,
        cx: &mut Context,
        ip: &IpRepr,
        repr: &UdpRepr,
    ) -> UdpDelivery {
        let local = IpEndpoint::new(ip.dst_addr, repr.dst_port);
        let remote = IpEndpoint::new(ip.src_addr, repr.src_port);
        let Some(index) = self.udp_owner(local, remote) else {
            return UdpDelivery::NoSocket;
        };
        match self.deliver_udp(cx, index, ip, repr) {
            Some(true) => UdpDelivery::Queued,
            Some(false) => UdpDelivery::Dropped,
            None => UdpDelivery::NoSocket,
        }
    }

    /// Hands a UDP datagram sent to a broadcast address to every socket
    /// bound to its port that takes it (as Linux and smoltcp do): the one
    /// bound to every address, the one bound to the broadcast address
    /// itself, and the one bound to each of `locals` (the interface's
    /// addresses the broadcast reaches: all of them for 255.255.255.255,
    /// those of the prefix for a directed broadcast). Two sockets never
    /// share a bound endpoint, so that is at most `2 + locals.len()`
    /// exact-key lookups, whatever the number of sockets. Connected
    /// sockets take only unicast from their peer (as on Linux, where
    /// connecting fixes the local address).
    pub(crate) fn process_udp_broadcast(
        &mut self,
        cx: &mut Context,
        ip: &IpRepr,
        repr: &UdpRepr,
        locals: &[IpAddress],
    ) -> UdpFanout {
        let port = repr.dst_port;
        let mut fanout = UdpFanout::default();
        let wildcard = core::iter::once(None);
        let exact = core::iter::once(ip.dst_addr)
            .chain(locals.iter().copied().filter(|&addr| addr != ip.dst_addr))
            .map(Some);
        for addr in wildcard.chain(exact) {
            let key = DemuxKey::udp_bound(IpListenEndpoint { addr, port });
            let Some(Target::Socket(index)) = self.lookup(&key) else {
                continue;
            };
            match self.deliver_udp(cx, index, ip, repr) {
                Some(true) => fanout.queued += 1,
                Some(false) => fanout.dropped += 1,
                None => {}
            }
        }
        fanout
    }

    /// Hands a datagram to the socket in slot `index`: `Some(queued)`, or
    /// `None` if that slot holds no kind that takes UDP.
    fn deliver_udp(
        &mut self,
        cx: &mut Context,
        index: usize,
        ip: &IpRepr,
        repr: &UdpRepr,
    ) -> Option<bool> {
        let item = self.item_at_mut(index)?;
        // Receiving changes neither the socket's key nor its schedule, so
        // the slot needs no sync. Kinds that speak over UDP (DHCPv4, DNS)
        // get their arm here.
        let queued = match &mut item.socket {
            Socket::Udp(socket) => socket.process(cx, ip, repr),
            // These change their schedule on receipt (an OFFER calls for
            // a REQUEST now; an answer ends a query's timer): sync.
            Socket::Dhcpv4(socket) => {
                let taken = socket.process_udp(cx, ip, repr);
                self.sync_slot(cx, index);
                taken
            }
            Socket::Dns(socket) => {
                let taken = socket.process_udp(cx, ip, repr);
                self.sync_slot(cx, index);
                taken
            }
            Socket::Tcp(_) | Socket::Icmp(_) => return None,
        };
        Some(queued)
    }

    /// Hands an ICMP error quoting a UDP datagram from `local` to `remote`
    /// to the socket that sent it; whether one has that endpoint.
    pub(crate) fn udp_icmp_error(
        &mut self,
        local: IpEndpoint,
        remote: IpEndpoint,
        report: IcmpErrorReport,
    ) -> bool {
        let Some(index) = self.udp_owner(local, remote) else {
            return false;
        };
        match self.item_at_mut(index).map(|item| &mut item.socket) {
            Some(Socket::Udp(socket)) => {
                socket.on_icmp_error(report);
                true
            }
            Some(Socket::Dns(socket)) => {
                socket.on_icmp_error(report);
                // Its schedule moved (the next server is due now): the
                // next poll syncs it.
                self.mark_dirty(index);
                true
            }
            _ => false,
        }
    }

    /// Hands an ARP packet the interface received to the DHCP client (the
    /// socket on port 68) if it is probing its offered address (RFC 5227):
    /// one lookup, nothing for other sockets.
    pub(crate) fn dhcpv4_arp(&mut self, cx: &mut Context, arp: &crate::wire::ArpRepr) {
        let key = DemuxKey::udp_bound(IpListenEndpoint {
            addr: None,
            port: crate::wire::dhcpv4::CLIENT_PORT,
        });
        let Some(Target::Socket(index)) = self.lookup(&key) else {
            return;
        };
        let Some(Socket::Dhcpv4(socket)) = self.item_at_mut(index).map(|item| &mut item.socket)
        else {
            return;
        };
        if socket.probing().is_some() {
            socket.process_arp_repr(cx.now, arp);
            self.sync_slot(cx, index);
        }
    }

    /// Whether a UDP socket is bound to `port` on `addr` (`None`: every
    /// address), or on every address, or (for `None`) on one of `addrs`.
    pub(crate) fn udp_bound_in_use(
        &self,
        addr: Option<IpAddress>,
        port: u16,
        addrs: impl Iterator<Item = IpAddress>,
    ) -> bool {
        let taken = |addr: Option<IpAddress>| {
            self.lookup(&DemuxKey::udp_bound(IpListenEndpoint { addr, port }))
                .is_some()
        };
        match addr {
            Some(_) => taken(addr) || taken(None),
            None => taken(None) || addrs.into_iter().any(|a| taken(Some(a))),
        }
    }

    /// Whether a UDP socket is bound to exactly `local`.
    pub(crate) fn udp_bound_in_use_exact(&self, local: IpListenEndpoint) -> bool {
        self.lookup(&DemuxKey::udp_bound(local)).is_some()
    }

    /// Whether a connected UDP socket has this 4-tuple.
    pub(crate) fn udp_connection_in_use(&self, local: IpEndpoint, remote: IpEndpoint) -> bool {
        self.lookup(&DemuxKey::udp_connection(local, remote))
            .is_some()
    }

    /// Whether an ICMP socket is bound to echo identifier `ident`.
    pub(crate) fn icmp_ident_in_use(&self, ident: u16) -> bool {
        self.lookup(&DemuxKey::icmp_ident(ident)).is_some()
    }

    fn icmp_owner(&mut self, ident: u16) -> Option<&mut crate::socket::icmp::IcmpSocket<'a>> {
        let Target::Socket(index) = self.lookup(&DemuxKey::icmp_ident(ident))? else {
            return None;
        };
        match &mut self.item_at_mut(index)?.socket {
            Socket::Icmp(socket) => Some(socket),
            _ => None,
        }
    }

    /// Hands an echo reply to the ICMP socket bound to its identifier;
    /// whether one queued it.
    pub(crate) fn process_icmp_echo(
        &mut self,
        cx: &mut Context,
        from: IpAddress,
        ident: u16,
        seq_no: u16,
        data: &[u8],
    ) -> bool {
        self.icmp_owner(ident)
            .is_some_and(|socket| socket.process_reply(cx, from, seq_no, data))
    }

    /// Hands an ICMP error quoting one of our echo requests to the socket
    /// bound to its identifier; whether one has it.
    pub(crate) fn icmp_echo_error(&mut self, ident: u16, report: IcmpErrorReport) -> bool {
        match self.icmp_owner(ident) {
            Some(socket) => {
                socket.on_icmp_error(report);
                true
            }
            None => false,
        }
    }

    /// Enters the socket `handle` in the demultiplexing table now (after
    /// the interface bound it), not at the next poll, so the next bind
    /// sees it; `false` if it could not be (it is then unbound).
    pub(crate) fn register_now(&mut self, cx: &mut Context, handle: SocketHandle) -> bool {
        if self.item(handle).is_none() {
            return false;
        }
        let index = handle.index();
        if self.update_registration(index) {
            return true;
        }
        self.registration_refused(cx, index);
        false
    }

    /// A socket that is not TCP could not be entered in the
    /// demultiplexing table (its key is another socket's, or the table is
    /// full): it is unbound, and says why.
    pub(super) fn registration_refused(&mut self, cx: &mut Context, index: usize) {
        cx.stats.demux_insert_failed += 1;
        match self.item_at_mut(index).map(|item| &mut item.socket) {
            Some(Socket::Udp(socket)) => socket.refuse_bind(),
            Some(Socket::Icmp(socket)) => socket.refuse_bind(),
            _ => {}
        }
    }
}
