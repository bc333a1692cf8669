//! IPv4: addressing, ingress checks and header output (RFC 791, RFC 1122
//! section 3.2.1).

use super::ethernet::write_link_header;
use super::*;
use crate::iface::fragment::Ipv4Fragmenter;
use crate::iface::reassembly::FragmentOutcome;

impl Interface<'_> {
    pub(super) fn process_ipv4<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        src_mac: Option<EthernetAddress>,
        link_broadcast: bool,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let Ok(packet) = Ipv4Packet::new_checked(bytes) else {
            self.link.stats.rx_drop_ipv4_malformed += 1;
            return None;
        };
        if packet.is_fragment() {
            self.process_fragment(cx.now, caps, &packet, link_broadcast);
            return None;
        }
        let stats = &mut self.link.stats;
        let ipv4 = match Ipv4Repr::parse(&packet, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_ipv4_checksum += 1;
                return None;
            }
            Err(_) => {
                stats.rx_drop_ipv4_malformed += 1;
                return None;
            }
        };
        let to_us = self.link.has_ip(ipv4.dst_addr);
        let broadcast = self.link.is_broadcast(ipv4.dst_addr);
        if !to_us && !broadcast {
            self.link.stats.rx_drop_ipv4_not_for_us += 1;
            return None;
        }
        // RFC 1122 section 3.2.1.3: a datagram from an address no host can
        // have is discarded, whatever it carries, so nothing (a SYN-ACK, an
        // echo reply, an ICMP error) is ever sent back to such an address.
        if let Some(martian) = self.link.martian_source(ipv4.src_addr) {
            net_debug!("ipv4: martian source {} ({:?})", ipv4.src_addr, martian);
            self.link.count_martian(martian);
            return None;
        }
        // Learn an unknown on-link sender from a valid packet addressed to
        // us, so replies need no ARP round trip; an existing entry is only
        // ever changed by ARP. (Only Ethernet frames have a sender to learn.)
        let src_ip = IpAddress::Ipv4(ipv4.src_addr);
        let learnable = |mac: &EthernetAddress| {
            to_us && mac.is_unicast() && self.link.is_on_link(ipv4.src_addr)
        };
        if let Some(src_mac) = src_mac.filter(learnable) {
            self.link
                .neighbors
                .learn_if_unresolved(src_ip, src_mac, cx.now);
        }
        let payload = packet.payload();
        let payload = payload.get(..ipv4.payload_len).unwrap_or(payload);
        // An echo request larger than the interface MTU (lowered below the
        // device's) needs its reply fragmented, which the receive token's
        // one transmit token cannot carry: it is answered after this frame,
        // from the reassembly pool, like a reassembled one.
        if ipv4.next_header == IpProtocol::Icmp
            && payload.first() == Some(&8)
            && !broadcast
            && IPV4_HEADER_LEN + payload.len() > self.ip_mtu
        {
            match self.link.reassembly.insert_whole(cx.now, &ipv4, payload) {
                Some(index) => self.link.reassembled = Some(index),
                None => self.link.stats.tx_drop_too_big += 1,
            }
            return None;
        }
        self.dispatch_ipv4(cx, caps, sockets, &ipv4, broadcast, link_broadcast, payload)
    }

    /// Hands a whole datagram (received whole, or reassembled) to its
    /// protocol. `broadcast`: to a broadcast address; `link_broadcast`:
    /// it came in a link-layer broadcast frame (then it draws no ICMP
    /// error, RFC 1122 section 3.2.2).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dispatch_ipv4<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ipv4: &Ipv4Repr,
        broadcast: bool,
        link_broadcast: bool,
        payload: &'f [u8],
    ) -> Option<Reply<'f>> {
        let ip = IpRepr {
            src_addr: IpAddress::Ipv4(ipv4.src_addr),
            dst_addr: IpAddress::Ipv4(ipv4.dst_addr),
            next_header: ipv4.next_header,
            payload_len: ipv4.payload_len,
            hop_limit: ipv4.hop_limit,
            ecn: ipv4.ecn,
        };
        match ipv4.next_header {
            IpProtocol::Icmp => self.process_icmp(cx, caps, sockets, ipv4, broadcast, payload),
            IpProtocol::Tcp if broadcast || !ip.src_addr.is_unicast() => {
                self.link.stats.rx_drop_tcp_bad_address += 1;
                None
            }
            IpProtocol::Tcp => self
                .process_tcp(cx, caps, sockets, &ip, payload)
                .map(|(ip, tcp)| Reply::Tcp(ip, tcp)),
            // The UDP hook (owned by the UDP code in `udp.rs`).
            IpProtocol::Udp => self.process_udp(
                cx,
                caps,
                sockets,
                ipv4,
                broadcast,
                broadcast || link_broadcast,
                payload,
            ),
            _ => {
                self.link.stats.rx_drop_unknown_protocol += 1;
                None
            }
        }
    }

    /// A fragment: checked as every datagram is (version, header checksum,
    /// for us, not from a martian source), then reassembled (RFC 791
    /// section 3.2). A datagram it completes is delivered after the frame
    /// ([`deliver_reassembled`](Self::deliver_reassembled)).
    fn process_fragment(
        &mut self,
        now: Instant,
        caps: &DeviceCapabilities,
        packet: &Ipv4Packet<&[u8]>,
        link_broadcast: bool,
    ) {
        let stats = &mut self.link.stats;
        if packet.version() != 4 {
            stats.rx_drop_ipv4_malformed += 1;
            return;
        }
        if caps.checksum.ipv4.rx() && !packet.verify_checksum() {
            stats.rx_drop_ipv4_checksum += 1;
            return;
        }
        let dst = packet.dst_addr();
        if !self.link.has_ip(dst) && !self.link.is_broadcast(dst) {
            self.link.stats.rx_drop_ipv4_not_for_us += 1;
            return;
        }
        if let Some(martian) = self.link.martian_source(packet.src_addr()) {
            self.link.count_martian(martian);
            return;
        }
        if self.link.reassembly.capacity() == 0 || self.link.reassembly.memory() == 0 {
            self.link.stats.rx_drop_ipv4_fragment += 1;
            return;
        }
        if let FragmentOutcome::Complete(index) =
            self.link
                .reassembly
                .add_from_link(now, packet, link_broadcast)
        {
            self.link.reassembled = Some(index);
        }
    }

    /// Delivers the datagram reassembled in slot `index` to its protocol,
    /// as [`process_ipv4`](Self::process_ipv4) would a whole one, and sends
    /// its reply (fragmented if it needs to be). Transport checksums are
    /// verified in software whatever the device offloads: no device saw the
    /// datagram whole.
    pub(super) fn deliver_reassembled<D: Device + ?Sized>(
        &mut self,
        cx: &mut Context,
        device: &mut D,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        index: usize,
    ) {
        let reassembly = core::mem::replace(&mut self.link.reassembly, Reassembler::empty());
        if let Some((ipv4, payload)) = reassembly.datagram(index) {
            let broadcast = self.link.is_broadcast(ipv4.dst_addr);
            let link_broadcast = reassembly.from_link_broadcast(index);
            let mut rx_caps = *caps;
            let checksum = &mut rx_caps.checksum;
            checksum.tcp = with_software_rx(checksum.tcp);
            checksum.udp = with_software_rx(checksum.udp);
            checksum.icmpv4 = with_software_rx(checksum.icmpv4);
            if let Some(reply) = self.dispatch_ipv4(
                cx,
                &rx_caps,
                sockets,
                &ipv4,
                broadcast,
                link_broadcast,
                payload,
            ) {
                self.emit_routed(cx.now, device, caps, reply);
            }
        }
        self.link.reassembly = reassembly;
        self.link.reassembly.release(index);
    }

    /// Sends a reply through the route table (not the receive token's
    /// paired transmit token), fragmenting it to the MTU if needed.
    fn emit_routed<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        caps: &DeviceCapabilities,
        reply: Reply<'_>,
    ) {
        let mtu = self.ip_mtu;
        let result = match reply {
            Reply::Tcp(ip, tcp) => self.link.emit_tcp(device, caps, now, &ip, &tcp, 0),
            Reply::Icmp(
                header,
                Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                },
            ) => {
                let head = echo_head(0, ident, seq_no, data);
                self.link
                    .emit_ipv4(device, caps, now, mtu, &header, &head, data)
                    .map(drop)
            }
            Reply::Icmp(header, icmp) => {
                // Errors quote at most a header and 8 bytes: small.
                let mut message = [0u8; 576];
                let len = icmp.buffer_len();
                match message.get_mut(..len) {
                    Some(bytes) => {
                        icmp.emit(
                            &mut Icmpv4Packet::new_unchecked(&mut *bytes),
                            &crate::wire::ChecksumCapabilities::default(),
                        );
                        self.link
                            .emit_ipv4(device, caps, now, mtu, &header, bytes, &[])
                            .map(drop)
                    }
                    None => {
                        self.link.stats.tx_drop_too_big += 1;
                        Ok(())
                    }
                }
            }
            // ARP never answers an IP datagram, and a reassembled IPv4
            // datagram gets no IPv6 reply.
            Reply::Arp(_) => Ok(()),
            #[cfg(feature = "proto-ipv6")]
            Reply::Icmpv6(..) | Reply::NeighborAdvert(_) => Ok(()),
        };
        if result.is_err() {
            self.link.stats.tx_device_busy += 1;
        }
    }
}

/// The 8-byte header of an echo message (`kind` 8: request, 0: reply)
/// with the checksum over it and `data` (RFC 792), so the data never has
/// to be copied next to it.
pub(super) fn echo_head(kind: u8, ident: u16, seq_no: u16, data: &[u8]) -> [u8; 8] {
    let mut head = [0u8; 8];
    head[0] = kind;
    head[4..6].copy_from_slice(&ident.to_be_bytes());
    head[6..8].copy_from_slice(&seq_no.to_be_bytes());
    let sum = !crate::wire::checksum::combine(&[
        crate::wire::checksum::data(&head),
        crate::wire::checksum::data(data),
    ]);
    head[2..4].copy_from_slice(&sum.to_be_bytes());
    head
}

/// A checksum setting with software verification on receive added.
fn with_software_rx(checksum: crate::wire::Checksum) -> crate::wire::Checksum {
    use crate::wire::Checksum;
    match checksum {
        Checksum::Tx => Checksum::Both,
        Checksum::None => Checksum::Rx,
        other => other,
    }
}

impl Link<'_> {
    /// Sends one IPv4 datagram: `header` (its `payload_len` is
    /// `head.len() + body.len()`), then `head` (a transport header whose
    /// checksum the caller computed over the whole datagram) and `body`.
    /// Routed as TCP is (next hop, ARP, the held queue); a broadcast
    /// destination goes to the Ethernet broadcast address without ARP.
    /// Larger than `mtu`, it goes out as fragments (RFC 791) unless DF is
    /// set, when it is dropped (counted in `tx_drop_too_big`).
    ///
    /// `Ok(true)` when it went out or was held for ARP, `Ok(false)` when it
    /// was dropped (counted). `Err(TxBusy)` when the device has no transmit
    /// token for a packet: fragments already sent are wasted (the
    /// receiver's reassembly times them out), and the caller may send the
    /// datagram again (it gets a new identification).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_ipv4<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        mtu: usize,
        header: &Ipv4Repr,
        head: &[u8],
        body: &[u8],
    ) -> Result<bool, TxBusy> {
        let ident = if header.dont_frag {
            self.next_ident()
        } else {
            // Unique among this host's datagrams that may be fragmented
            // for as long as 65,535 more of them take (RFC 6864 section
            // 4.2's requirement, within IPv4's 16 bits).
            self.fragment_ident = self.fragment_ident.wrapping_add(1);
            self.fragment_ident
        };
        let Ok(mut packets) = Ipv4Fragmenter::new(*header, ident, head, body, mtu) else {
            self.stats.tx_drop_too_big += 1;
            return Ok(false);
        };
        let fragmented = packets.count() > 1;
        let medium = caps.medium;
        let dst = header.dst_addr;
        let dst_mac = match medium {
            Medium::Ip => EthernetAddress::BROADCAST,
            Medium::Ethernet if self.is_broadcast(dst) => EthernetAddress::BROADCAST,
            Medium::Ethernet => {
                let next_hop = match self.next_hop(dst, now) {
                    Some(hop) if !dst.is_multicast() => hop,
                    _ => {
                        self.stats.tx_drop_no_route += 1;
                        return Ok(false);
                    }
                };
                match self.neighbors.resolve(IpAddress::Ipv4(next_hop), now) {
                    Resolution::Send(mac) => mac,
                    Resolution::Hold => {
                        // Held packets are sent later as they are: every
                        // checksum in software.
                        let plain = crate::wire::ChecksumCapabilities::default();
                        while let Some(len) = packets.next_len() {
                            self.hold(now, next_hop, len, |bytes| {
                                packets.emit_next(bytes, &plain);
                            });
                            if fragmented {
                                self.stats.tx_fragments += 1;
                            }
                        }
                        self.stats.tx_fragmented += u64::from(fragmented);
                        return Ok(true);
                    }
                    Resolution::CacheFull => {
                        self.stats.tx_drop_neighbor_cache_full += 1;
                        return Ok(false);
                    }
                }
            }
        };
        let l2 = medium.header_len();
        let src_mac = self.hardware_addr;
        self.stats.tx_fragmented += u64::from(fragmented);
        while let Some(len) = packets.next_len() {
            let token = device.transmit(now).ok_or(TxBusy)?;
            token.consume(l2 + len, |buf| {
                write_link_header(buf, medium, src_mac, dst_mac, EthernetProtocol::Ipv4);
                if let Some(ip_bytes) = buf.get_mut(l2..) {
                    packets.emit_next(ip_bytes, &caps.checksum);
                }
            });
            self.stats.tx_frames += 1;
            self.stats.tx_fragments += u64::from(fragmented);
        }
        Ok(true)
    }
}

/// Why a source address is one no host can send from (RFC 1122 section
/// 3.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Martian {
    /// One of our own addresses (a LAND attack).
    OwnAddress,
    /// 255.255.255.255 or one of our prefixes' directed broadcasts.
    Broadcast,
    /// One of our prefixes' network address.
    Network,
    /// 224.0.0.0/4.
    Multicast,
    /// 0.0.0.0/8.
    Unspecified,
    /// 127.0.0.0/8.
    Loopback,
}

impl<'a> Link<'a> {
    /// Whether `src` cannot be the source of a datagram from the network,
    /// and why (RFC 1122 sections 3.2.1.3 and 3.2.2). 0.0.0.0 is refused
    /// too: it is a valid source only for a host still configuring itself
    /// (BOOTP/DHCP), which nothing here handles yet.
    pub(super) fn martian_source(&self, src: Ipv4Address) -> Option<Martian> {
        // One pass over the prefixes (this runs on every datagram); the
        // checks keep their order of precedence.
        let bits = src.to_bits();
        let (mut broadcast, mut network) = (bits == u32::MAX, false);
        for cidr in self.ip_addrs.iter().flatten() {
            let address = cidr.address().to_bits();
            if address == bits {
                return Some(Martian::OwnAddress);
            }
            // /31 (RFC 3021) and /32 prefixes have neither a broadcast nor
            // a network address.
            if cidr.prefix_len() <= 30 {
                let mask = cidr.mask_bits();
                broadcast |= bits == address | !mask;
                network |= bits == address & mask;
            }
        }
        if broadcast {
            Some(Martian::Broadcast)
        } else if network {
            Some(Martian::Network)
        } else if src.is_multicast() {
            Some(Martian::Multicast)
        } else if src.0[0] == 0 {
            Some(Martian::Unspecified)
        } else if src.is_loopback() {
            Some(Martian::Loopback)
        } else {
            None
        }
    }

    pub(super) fn count_martian(&mut self, martian: Martian) {
        let stats = &mut self.stats;
        let counter = match martian {
            Martian::OwnAddress => &mut stats.rx_drop_martian_own_address,
            Martian::Broadcast => &mut stats.rx_drop_martian_broadcast,
            Martian::Network => &mut stats.rx_drop_martian_network,
            Martian::Multicast => &mut stats.rx_drop_martian_multicast,
            Martian::Unspecified => &mut stats.rx_drop_martian_unspecified,
            Martian::Loopback => &mut stats.rx_drop_martian_loopback,
        };
        *counter += 1;
    }

    pub(super) fn has_ip(&self, addr: Ipv4Address) -> bool {
        self.ip_addrs
            .iter()
            .flatten()
            .any(|cidr| cidr.address() == addr)
    }

    pub(super) fn is_broadcast(&self, addr: Ipv4Address) -> bool {
        addr.is_broadcast()
            || self
                .ip_addrs
                .iter()
                .flatten()
                .any(|cidr| cidr.broadcast() == Some(addr))
    }

    pub(super) fn is_on_link(&self, addr: Ipv4Address) -> bool {
        self.ip_addrs
            .iter()
            .flatten()
            .any(|cidr| cidr.contains(addr))
    }

    /// The next hop for `dst` at `now`, by longest-prefix match over our
    /// prefixes (implicit on-link routes, preferred on a tie) and the route
    /// table; `None`: no route. A one-entry cache answers repeated lookups
    /// for one destination (a TCP flow's every segment) with one
    /// comparison until an address or route changes or a route expires.
    pub(super) fn next_hop(&mut self, dst: Ipv4Address, now: Instant) -> Option<Ipv4Address> {
        let generation = (self.addr_generation, self.routes.generation());
        if let Some(cache) = self.hop_cache {
            if cache.dst == dst
                && cache.generation == generation
                && cache.valid_until.is_none_or(|at| now < at)
            {
                return cache.next_hop;
            }
        }
        let on_link = self
            .ip_addrs
            .iter()
            .flatten()
            .filter(|cidr| cidr.contains(dst))
            .map(|cidr| cidr.prefix_len())
            .max();
        let route = self
            .routes
            .lookup(IpAddress::Ipv4(dst), now)
            .filter(|r| on_link.is_none_or(|len| r.destination.prefix_len() > len));
        let next_hop = match route {
            Some(route) => match route.gateway {
                Some(gateway) => gateway.as_ipv4(),
                None => Some(dst),
            },
            None => on_link.map(|_| dst),
        };
        self.hop_cache = Some(HopCache {
            dst,
            next_hop,
            generation,
            valid_until: self.routes.next_expiry(),
        });
        next_hop
    }

    pub(super) fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }
}

/// Writes an IPv4 header with identification `ident`, computing its
/// checksum once, after the ident is in place (when the device leaves the
/// checksum to software).
pub(super) fn emit_ipv4_header(
    packet: &mut Ipv4Packet<&mut [u8]>,
    header: &Ipv4Repr,
    ident: u16,
    caps: &DeviceCapabilities,
) {
    let mut no_ipv4_checksum = caps.checksum;
    no_ipv4_checksum.ipv4 = crate::wire::Checksum::None;
    header.emit(packet, &no_ipv4_checksum);
    packet.set_ident(ident);
    if caps.checksum.ipv4.tx() {
        packet.fill_checksum();
    }
}
