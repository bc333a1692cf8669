//! IPv4: addressing, ingress checks and header output (RFC 791, RFC 1122
//! section 3.2.1).

use super::*;

impl Interface<'_> {
    pub(super) fn process_ipv4<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        src_mac: Option<EthernetAddress>,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let Ok(packet) = Ipv4Packet::new_checked(bytes) else {
            self.link.stats.rx_drop_ipv4_malformed += 1;
            return None;
        };
        let stats = &mut self.link.stats;
        if packet.is_fragment() {
            stats.rx_drop_ipv4_fragment += 1;
            return None;
        }
        let ipv4 = match Ipv4Repr::parse(&packet, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_ipv4_checksum += 1;
                return None;
            }
            Err(crate::wire::Error::Fragmented) => {
                stats.rx_drop_ipv4_fragment += 1;
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
        let ip = IpRepr {
            src_addr: IpAddress::Ipv4(ipv4.src_addr),
            dst_addr: IpAddress::Ipv4(ipv4.dst_addr),
            next_header: ipv4.next_header,
            payload_len: ipv4.payload_len,
            hop_limit: ipv4.hop_limit,
            ecn: ipv4.ecn,
        };
        let payload = packet.payload();
        let payload = payload.get(..ipv4.payload_len).unwrap_or(payload);
        match ipv4.next_header {
            IpProtocol::Icmp => self.process_icmp(cx, caps, sockets, &ipv4, broadcast, payload),
            IpProtocol::Tcp if broadcast || !ip.src_addr.is_unicast() => {
                self.link.stats.rx_drop_tcp_bad_address += 1;
                None
            }
            IpProtocol::Tcp => self
                .process_tcp(cx, caps, sockets, &ip, payload)
                .map(|(ip, tcp)| Reply::Tcp(ip, tcp)),
            // The UDP hook (owned by the UDP code in `udp.rs`).
            IpProtocol::Udp => self.process_udp(cx, caps, sockets, &ipv4, broadcast, payload),
            _ => {
                self.link.stats.rx_drop_unknown_protocol += 1;
                None
            }
        }
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
