//! UDP (RFC 768) and ICMP echo sockets: binding with ephemeral ports,
//! datagram ingress to the socket set, ICMP port unreachable for no socket
//! (rate-limited), and datagram output through the same routing, ARP and
//! neighbor cache as TCP.

use super::*;
use crate::socket::icmp::{self, EchoOut, IcmpSocket};
use crate::socket::udp::{self, UdpSocket};
use crate::socket::{DatagramOut, SocketHandle};
use crate::wire::{
    ChecksumCapabilities, Icmpv4DstUnreachable, IpListenEndpoint, UdpPacket, UdpRepr,
};

/// ICMP errors sent at once before the rate limit bites (RFC 1812 section
/// 4.3.2.8 asks for a limit; a token bucket as Linux's `icmp_ratelimit`).
pub(super) const ICMP_ERROR_BURST: u32 = 10;
/// One more ICMP error may go per this much time: 10 a second sustained.
pub(super) const ICMP_ERROR_INTERVAL: Duration = Duration::from_millis(100);
/// The most of the offending datagram an ICMP error quotes after its IP
/// header: RFC 1812 section 4.3.2.3 asks for as much as fits in 576 bytes
/// (less the error's IP and ICMP headers and the quoted IP header).
const ICMP_QUOTE_MAX: usize = 576 - IPV4_HEADER_LEN - 8 - IPV4_HEADER_LEN;
/// UDP header length.
const UDP_HEADER_LEN: usize = 8;

/// A token bucket on the interface's clock limiting the ICMP errors it
/// originates (RFC 1812 section 4.3.2.8): up to [`ICMP_ERROR_BURST`] at
/// once, then one per [`ICMP_ERROR_INTERVAL`]. Deterministic: it moves only
/// with `now`.
#[derive(Debug, Clone, Copy)]
pub(super) struct IcmpRateLimit {
    tokens: u32,
    /// When the last token was added (or the bucket was last full).
    refilled_at: Instant,
}

impl IcmpRateLimit {
    pub(super) const fn new() -> IcmpRateLimit {
        IcmpRateLimit {
            tokens: ICMP_ERROR_BURST,
            refilled_at: Instant::ZERO,
        }
    }

    /// Whether an error may go at `now` (taking a token if so).
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        let interval = ICMP_ERROR_INTERVAL.total_micros().max(1);
        let elapsed = (now - self.refilled_at).total_micros();
        let earned = elapsed / interval;
        if earned > 0 {
            let tokens = u64::from(self.tokens).saturating_add(earned);
            // At most the burst, which fits a u32.
            self.tokens = tokens.min(u64::from(ICMP_ERROR_BURST)) as u32;
            self.refilled_at += Duration::from_micros(earned.saturating_mul(interval));
        }
        if self.tokens >= ICMP_ERROR_BURST {
            // A full bucket earns nothing: count from now.
            self.refilled_at = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

impl Interface<'_> {
    /// Binds the UDP socket `handle` to `local` (a port, or an address and
    /// port; `From<u16>` gives every address). Port 0 takes an ephemeral
    /// port (RFC 6335's range) free on that address, in the order of RFC
    /// 6056's Algorithm 4. A socket bound to a concrete address and one
    /// bound to every address may share a port (the concrete one gets the
    /// datagrams to its address); two sockets may not have the same
    /// endpoint. Returns the bound endpoint.
    pub fn udp_bind<T: Into<IpListenEndpoint>>(
        &mut self,
        sockets: &mut SocketSet<'_>,
        handle: SocketHandle,
        local: T,
    ) -> Result<IpListenEndpoint, udp::BindError> {
        sockets.attach(self.demux_key);
        let mut local = local.into();
        if sockets
            .get::<UdpSocket>(handle)
            .ok_or(udp::BindError::InvalidState)?
            .is_bound()
        {
            return Err(udp::BindError::InvalidState);
        }
        let link = &self.link;
        let ours = || {
            link.ip_addrs
                .iter()
                .flatten()
                .map(|c| IpAddress::Ipv4(c.address()))
        };
        if local.port == 0 {
            let seed_addr = local.addr.unwrap_or(IpAddress::v4(0, 0, 0, 0));
            let any = IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 0);
            local.port = self
                .ports
                .select(seed_addr, any, |port| {
                    !sockets.udp_bound_in_use(local.addr, port, ours())
                })
                .ok_or(udp::BindError::Unaddressable)?;
        } else if sockets.udp_bound_in_use_exact(local) {
            return Err(udp::BindError::AddressInUse);
        }
        let socket = sockets
            .get_mut::<UdpSocket>(handle)
            .ok_or(udp::BindError::InvalidState)?;
        socket.bind(local)?;
        let mut cx = self.context(self.now);
        if !sockets.register_now(&mut cx, handle) {
            return Err(udp::BindError::AddressInUse);
        }
        Ok(local)
    }

    /// Connects the UDP socket `handle` to `remote`, binding it first if it
    /// is not: the local address is the one on `remote`'s prefix (else the
    /// first), the port an ephemeral one free for that 4-tuple (RFC 6056
    /// Algorithm 4, as TCP's `connect`). A socket bound to every address
    /// is bound to that local address, so it is found by its 4-tuple.
    /// Returns the local endpoint.
    pub fn udp_connect(
        &mut self,
        sockets: &mut SocketSet<'_>,
        handle: SocketHandle,
        remote: IpEndpoint,
    ) -> Result<IpEndpoint, udp::ConnectError> {
        sockets.attach(self.demux_key);
        let remote_v4 = remote
            .addr
            .as_ipv4()
            .ok_or(udp::ConnectError::Unaddressable)?;
        if remote.port == 0 || remote_v4.is_unspecified() {
            return Err(udp::ConnectError::Unaddressable);
        }
        let bound = sockets
            .get::<UdpSocket>(handle)
            .ok_or(udp::ConnectError::Unbound)?
            .endpoint();
        let local_addr = match bound.addr {
            Some(addr) => addr,
            None => self
                .link
                .source_for(remote_v4)
                .map(IpAddress::Ipv4)
                .ok_or(udp::ConnectError::Unaddressable)?,
        };
        let port = if bound.port != 0 {
            bound.port
        } else {
            let link = &self.link;
            let ours = || {
                link.ip_addrs
                    .iter()
                    .flatten()
                    .map(|c| IpAddress::Ipv4(c.address()))
            };
            self.ports
                .select(local_addr, remote, |port| {
                    !sockets.udp_bound_in_use(Some(local_addr), port, ours())
                        && !sockets.udp_connection_in_use(IpEndpoint::new(local_addr, port), remote)
                })
                .ok_or(udp::ConnectError::Unaddressable)?
        };
        let local = IpEndpoint::new(local_addr, port);
        if sockets.udp_connection_in_use(local, remote) {
            return Err(udp::ConnectError::AddressInUse);
        }
        let socket = sockets
            .get_mut::<UdpSocket>(handle)
            .ok_or(udp::ConnectError::Unbound)?;
        if bound.port == 0 || bound.addr.is_none() {
            // Rebinding a wildcard socket to the concrete address keeps its
            // port; `close` then `bind` resets what `bind` checks.
            socket.rebind_for_connect(local);
        }
        socket.connect(remote)?;
        let mut cx = self.context(self.now);
        if !sockets.register_now(&mut cx, handle) {
            return Err(udp::ConnectError::AddressInUse);
        }
        Ok(local)
    }

    /// Binds the ICMP echo socket `handle` to echo identifier `ident`, or
    /// with `None` to one no other socket of the set has (chosen as
    /// ephemeral ports are, RFC 6056). Returns the identifier.
    pub fn icmp_bind(
        &mut self,
        sockets: &mut SocketSet<'_>,
        handle: SocketHandle,
        ident: Option<u16>,
    ) -> Result<u16, icmp::BindError> {
        sockets.attach(self.demux_key);
        if sockets
            .get::<IcmpSocket>(handle)
            .ok_or(icmp::BindError::InvalidState)?
            .ident()
            .is_some()
        {
            return Err(icmp::BindError::InvalidState);
        }
        let ident = match ident {
            Some(ident) if sockets.icmp_ident_in_use(ident) => {
                return Err(icmp::BindError::AddressInUse);
            }
            Some(ident) => ident,
            None => {
                let marker = IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 0);
                self.ports
                    .select(IpAddress::v4(0, 0, 0, 1), marker, |id| {
                        !sockets.icmp_ident_in_use(id)
                    })
                    .ok_or(icmp::BindError::AddressInUse)?
            }
        };
        let socket = sockets
            .get_mut::<IcmpSocket>(handle)
            .ok_or(icmp::BindError::InvalidState)?;
        socket.bind(ident)?;
        let mut cx = self.context(self.now);
        if !sockets.register_now(&mut cx, handle) {
            return Err(icmp::BindError::AddressInUse);
        }
        Ok(ident)
    }

    /// A UDP datagram addressed to us (`broadcast`: to a broadcast
    /// address; `link_broadcast`: it came in a link-layer broadcast
    /// frame): checked (RFC 768, RFC 1122 section 4.1.3.4) and handed to
    /// its socket, or for a broadcast to every socket that takes it
    /// ([`SocketSet`]'s broadcast fan-out); with none, a port unreachable
    /// (RFC 1122 section 4.1.3.1) unless it was a broadcast at either
    /// layer (section 3.2.2: no ICMP error for an IP or link-layer
    /// broadcast) or the rate limit says no.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn process_udp<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ipv4: &Ipv4Repr,
        broadcast: bool,
        link_broadcast: bool,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let ip = &IpRepr {
            src_addr: IpAddress::Ipv4(ipv4.src_addr),
            dst_addr: IpAddress::Ipv4(ipv4.dst_addr),
            next_header: ipv4.next_header,
            payload_len: ipv4.payload_len,
            hop_limit: ipv4.hop_limit,
            ecn: ipv4.ecn,
        };
        let stats = &mut self.link.stats;
        let Ok(packet) = UdpPacket::new_checked(bytes) else {
            stats.rx_drop_udp_malformed += 1;
            return None;
        };
        let repr = match UdpRepr::parse(&packet, &ip.src_addr, &ip.dst_addr, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_udp_checksum += 1;
                return None;
            }
            Err(_) => {
                stats.rx_drop_udp_malformed += 1;
                return None;
            }
        };
        if repr.dst_port == 0 {
            // Port 0 is reserved (RFC 768 lists none; IANA reserves it):
            // no socket can have it, and it deserves no answer.
            stats.rx_drop_udp_malformed += 1;
            return None;
        }
        if broadcast {
            let (locals, count) = self.link.broadcast_locals(ipv4.dst_addr);
            let locals = locals.get(..count).unwrap_or(&[]);
            let fanout = sockets.process_udp_broadcast(cx, ip, &repr, locals);
            let stats = &mut self.link.stats;
            stats.udp_datagrams_received += u64::from(fanout.queued);
            stats.rx_drop_udp_socket += u64::from(fanout.dropped);
            if fanout == crate::socket::UdpFanout::default() {
                stats.udp_no_socket += 1;
            }
            // Never an ICMP error for a broadcast (RFC 1122 section 3.2.2).
            return None;
        }
        match sockets.process_udp(cx, ip, &repr) {
            crate::socket::UdpDelivery::Queued => {
                stats.udp_datagrams_received += 1;
                None
            }
            crate::socket::UdpDelivery::Dropped => {
                stats.rx_drop_udp_socket += 1;
                None
            }
            crate::socket::UdpDelivery::NoSocket => {
                stats.udp_no_socket += 1;
                if link_broadcast || !ip.src_addr.is_unicast() {
                    return None;
                }
                if !self.icmp_rate_limit.allow(cx.now) {
                    self.link.stats.icmp_errors_rate_limited += 1;
                    return None;
                }
                self.link.stats.icmp_port_unreachable_sent += 1;
                Some(port_unreachable(ipv4, bytes))
            }
        }
    }
}

/// The ICMP port unreachable answering `ipv4` whose payload is `bytes`:
/// its header and as much of its payload as RFC 1812 section 4.3.2.3
/// allows.
fn port_unreachable<'f>(ipv4: &Ipv4Repr, bytes: &'f [u8]) -> Reply<'f> {
    let quoted = bytes.get(..ICMP_QUOTE_MAX).unwrap_or(bytes);
    let icmp = Icmpv4Repr::DstUnreachable {
        reason: Icmpv4DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        header: *ipv4,
        data: quoted,
    };
    let header = Ipv4Repr {
        src_addr: ipv4.dst_addr,
        dst_addr: ipv4.src_addr,
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: DEFAULT_HOP_LIMIT,
        dont_frag: false,
        ecn: crate::wire::IpEcn::NotEct,
    };
    Reply::Icmp(header, icmp)
}

impl Link<'_> {
    /// Our addresses a broadcast to `dst` reaches, and how many there
    /// are: every one for the limited broadcast 255.255.255.255, those
    /// whose prefix's directed broadcast `dst` is otherwise (RFC 919, RFC
    /// 922).
    fn broadcast_locals(&self, dst: Ipv4Address) -> ([IpAddress; MAX_IP_ADDRS], usize) {
        let mut locals = [IpAddress::Ipv4(Ipv4Address::UNSPECIFIED); MAX_IP_ADDRS];
        let mut count = 0;
        let reached = self
            .ip_addrs
            .iter()
            .flatten()
            .filter(|cidr| dst.is_broadcast() || cidr.broadcast() == Some(dst));
        for (slot, cidr) in locals.iter_mut().zip(reached) {
            *slot = IpAddress::Ipv4(cidr.address());
            count += 1;
        }
        (locals, count)
    }

    /// The source address for a datagram to `dst`: ours on its prefix,
    /// else the first (RFC 1122 section 3.3.4.3 leaves the choice to us).
    pub(super) fn source_for(&self, dst: Ipv4Address) -> Option<Ipv4Address> {
        let mut addrs = self.ip_addrs.iter().flatten();
        addrs
            .clone()
            .find(|cidr| cidr.contains(dst))
            .or_else(|| addrs.next())
            .map(|cidr| cidr.address())
    }

    /// Sends a UDP datagram a socket dispatched, its checksum always
    /// computed (RFC 768).
    pub(super) fn emit_udp<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        mtu: usize,
        out: &DatagramOut<'_>,
    ) -> Result<(), TxBusy> {
        let Some(dst) = out.dst.addr.as_ipv4() else {
            self.stats.tx_drop_no_route += 1;
            return Ok(());
        };
        let src = match out.src_addr {
            Some(addr) => addr.as_ipv4(),
            None => self.source_for(dst),
        };
        let Some(src) = src else {
            self.stats.tx_drop_udp += 1;
            return Ok(());
        };
        let udp_len = UDP_HEADER_LEN + out.payload.len();
        let ip_len = IPV4_HEADER_LEN + udp_len;
        if ip_len > IPV4_HEADER_LEN + MAX_UDP_LEN {
            self.stats.tx_drop_udp += 1;
            return Ok(());
        }
        let header = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Udp,
            payload_len: udp_len,
            hop_limit: out.hop_limit.unwrap_or(DEFAULT_HOP_LIMIT),
            dont_frag: false,
            ecn: crate::wire::IpEcn::NotEct,
        };
        if ip_len > mtu {
            // Fragments (RFC 791): the UDP header, its checksum over the
            // whole datagram, then the payload, cut to the MTU.
            let head = udp_head(src, dst, out.src_port, out.dst.port, out.payload);
            let sent = self.emit_ipv4(device, caps, now, mtu, &header, &head, out.payload)?;
            if sent {
                self.stats.udp_datagrams_sent += 1;
            }
            return Ok(());
        }
        let repr = UdpRepr {
            src_port: out.src_port,
            dst_port: out.dst.port,
            payload: out.payload,
        };
        let sent = self.send_ipv4(device, caps, now, dst, ip_len, |buf, ident, caps| {
            let mut packet = Ipv4Packet::new_unchecked(buf);
            emit_ipv4_header(&mut packet, &header, ident, caps);
            repr.emit(
                &mut UdpPacket::new_unchecked(packet.payload_mut()),
                &IpAddress::Ipv4(src),
                &IpAddress::Ipv4(dst),
                &ChecksumCapabilities::default(),
            );
        })?;
        if sent {
            self.stats.udp_datagrams_sent += 1;
        }
        Ok(())
    }

    /// Sends an echo request an ICMP socket dispatched.
    pub(super) fn emit_echo<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        mtu: usize,
        out: &EchoOut<'_>,
    ) -> Result<(), TxBusy> {
        let (Some(dst), Some(src)) = (
            out.dst.as_ipv4(),
            out.dst.as_ipv4().and_then(|dst| self.source_for(dst)),
        ) else {
            self.stats.tx_drop_no_route += 1;
            return Ok(());
        };
        let icmp = Icmpv4Repr::EchoRequest {
            ident: out.ident,
            seq_no: out.seq_no,
            data: out.data,
        };
        let ip_len = IPV4_HEADER_LEN + icmp.buffer_len();
        if ip_len > 65535 {
            self.stats.tx_drop_udp += 1;
            return Ok(());
        }
        let header = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Icmp,
            payload_len: icmp.buffer_len(),
            hop_limit: out.hop_limit.unwrap_or(DEFAULT_HOP_LIMIT),
            dont_frag: false,
            ecn: crate::wire::IpEcn::NotEct,
        };
        if ip_len > mtu {
            let head = super::ipv4::echo_head(8, out.ident, out.seq_no, out.data);
            let sent = self.emit_ipv4(device, caps, now, mtu, &header, &head, out.data)?;
            if sent {
                self.stats.icmp_echo_requests_sent += 1;
            }
            return Ok(());
        }
        let sent = self.send_ipv4(device, caps, now, dst, ip_len, |buf, ident, caps| {
            let mut packet = Ipv4Packet::new_unchecked(buf);
            emit_ipv4_header(&mut packet, &header, ident, caps);
            icmp.emit(
                &mut Icmpv4Packet::new_unchecked(packet.payload_mut()),
                &ChecksumCapabilities::default(),
            );
        })?;
        if sent {
            self.stats.icmp_echo_requests_sent += 1;
        }
        Ok(())
    }

    /// Sends (or holds for ARP) an IPv4 packet of `ip_len` bytes to `dst`
    /// that `write` fills in, given the IP identification and the
    /// checksum capabilities to write with. A broadcast destination goes
    /// to the Ethernet broadcast address without ARP (RFC 919, RFC 1122
    /// section 3.3.6). `Ok(true)` if it went out or was held.
    fn send_ipv4<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        dst: Ipv4Address,
        ip_len: usize,
        write: impl FnOnce(&mut [u8], u16, &DeviceCapabilities),
    ) -> Result<bool, TxBusy> {
        if caps.medium == Medium::Ip {
            let token = device.transmit(now).ok_or(TxBusy)?;
            let ident = self.next_ident();
            token.consume(ip_len, |buf| write(buf, ident, caps));
            self.stats.tx_frames += 1;
            return Ok(true);
        }
        let dst_mac = if self.is_broadcast(dst) {
            EthernetAddress::BROADCAST
        } else {
            let Some(next_hop) = self.next_hop(dst, now) else {
                self.stats.tx_drop_no_route += 1;
                return Ok(false);
            };
            match self.neighbors.resolve(IpAddress::Ipv4(next_hop), now) {
                Resolution::Send(mac) => mac,
                Resolution::Hold => {
                    // Held packets go out later without meta: every
                    // checksum in software.
                    let mut plain_caps = *caps;
                    plain_caps.checksum = crate::wire::ChecksumCapabilities::default();
                    let ident = self.next_ident();
                    self.hold(now, next_hop, ip_len, |bytes| {
                        write(bytes, ident, &plain_caps)
                    });
                    return Ok(true);
                }
                Resolution::CacheFull => {
                    self.stats.tx_drop_neighbor_cache_full += 1;
                    return Ok(false);
                }
            }
        };
        let token = device.transmit(now).ok_or(TxBusy)?;
        let ident = self.next_ident();
        let src_mac = self.hardware_addr;
        token.consume(ETHERNET_HEADER_LEN + ip_len, |buf| {
            write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
            if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                write(ip_bytes, ident, caps);
            }
        });
        self.stats.tx_frames += 1;
        Ok(true)
    }
}

/// The largest UDP datagram over IPv4: header and payload within a 65,535-
/// byte packet with a 20-byte IP header.
const MAX_UDP_LEN: usize = 65535 - IPV4_HEADER_LEN;

/// The 8-byte UDP header for `payload` from `src:src_port` to
/// `dst:dst_port`, its checksum over the pseudo-header, the header and
/// the payload (RFC 768; a computed zero is sent as all ones).
fn udp_head(
    src: Ipv4Address,
    dst: Ipv4Address,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> [u8; 8] {
    use crate::wire::checksum;
    let len = UDP_HEADER_LEN + payload.len();
    let mut head = [0u8; 8];
    head[0..2].copy_from_slice(&src_port.to_be_bytes());
    head[2..4].copy_from_slice(&dst_port.to_be_bytes());
    // At most 65,515 (checked by the caller).
    head[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    let sum = !checksum::combine(&[
        checksum::pseudo_header(
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            IpProtocol::Udp,
            len as u32,
        ),
        checksum::data(&head),
        checksum::data(payload),
    ]);
    let sum = if sum == 0 { 0xffff } else { sum };
    head[6..8].copy_from_slice(&sum.to_be_bytes());
    head
}
