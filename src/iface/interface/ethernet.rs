//! Ethernet framing: the first step of ingress and the last of egress.

use super::*;

impl Interface<'_> {
    /// A bare IP packet from a device of the IP medium: the version nibble
    /// (RFC 791 section 3.1) chooses the protocol; there is no link-layer
    /// sender to learn.
    pub(super) fn process_ip<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        packet: &'f [u8],
    ) -> Option<Reply<'f>> {
        let Some(&first) = packet.first() else {
            self.link.stats.rx_drop_ethernet_malformed += 1;
            return None;
        };
        match first >> 4 {
            4 => self.process_ipv4(cx, caps, sockets, None, false, packet),
            #[cfg(feature = "proto-ipv6")]
            6 => self.process_ipv6(cx, caps, None, packet),
            _ => {
                self.link.stats.rx_drop_unknown_ethertype += 1;
                None
            }
        }
    }

    pub(super) fn process_frame<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        frame: &'f [u8],
    ) -> Option<(EthernetAddress, Reply<'f>)> {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.link.stats.rx_drop_ethernet_malformed += 1;
            return None;
        };
        let dst = eth.dst_addr();
        if dst != self.link.hardware_addr && !dst.is_broadcast() && !self.ipv6_group_frame(&eth) {
            self.link.stats.rx_drop_not_for_us += 1;
            return None;
        }
        let src_mac = eth.src_addr();
        let reply = match eth.ethertype() {
            EthernetProtocol::Arp => {
                // A probing DHCP client sees every ARP packet, also those
                // the cache ignores (another host's probe, sender 0.0.0.0).
                if let Ok(arp) =
                    ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p))
                {
                    sockets.dhcpv4_arp(cx, &arp);
                }
                self.link.process_arp(cx.now, eth.payload())
            }
            EthernetProtocol::Ipv4 => {
                let link_broadcast = dst.is_broadcast();
                self.process_ipv4(
                    cx,
                    caps,
                    sockets,
                    Some(src_mac),
                    link_broadcast,
                    eth.payload(),
                )
            }
            #[cfg(feature = "proto-ipv6")]
            EthernetProtocol::Ipv6 => self.process_ipv6(cx, caps, Some(src_mac), eth.payload()),
            _ => {
                self.link.stats.rx_drop_unknown_ethertype += 1;
                None
            }
        };
        reply.map(|r| (src_mac, r))
    }

    /// Whether a frame to a group address other than broadcast is an IPv6
    /// packet to one of the groups we listen to (all-nodes, our
    /// solicited-node groups; RFC 2464 section 7).
    #[cfg(feature = "proto-ipv6")]
    fn ipv6_group_frame(&self, eth: &EthernetFrame<&[u8]>) -> bool {
        eth.ethertype() == EthernetProtocol::Ipv6
            && self.link.accepts_ipv6_group_mac(eth.dst_addr())
    }

    /// Without IPv6, only unicast and broadcast frames are for us.
    #[cfg(not(feature = "proto-ipv6"))]
    fn ipv6_group_frame(&self, _eth: &EthernetFrame<&[u8]>) -> bool {
        false
    }
}

impl Link<'_> {
    /// Sends a reply through the receive token's paired transmit token; on
    /// the IP medium there is no link-layer header and `dst_mac` is unused.
    pub(super) fn emit_reply<T: TxToken>(
        &mut self,
        mut tx: T,
        caps: &DeviceCapabilities,
        dst_mac: EthernetAddress,
        reply: Reply<'_>,
    ) {
        let src_mac = self.hardware_addr;
        let l2 = caps.medium.header_len();
        let medium = caps.medium;
        match reply {
            // ARP exists only on Ethernet; no other medium gets here.
            Reply::Arp(_) if medium != Medium::Ethernet => return,
            Reply::Arp(arp) => {
                let len = ETHERNET_HEADER_LEN + arp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Arp);
                    if let Some(payload) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        arp.emit(&mut ArpPacket::new_unchecked(payload));
                    }
                });
            }
            Reply::Icmp(header, icmp) => {
                let ident = self.next_ident();
                let len = l2 + IPV4_HEADER_LEN + icmp.buffer_len();
                tx.consume(len, |buf| {
                    write_link_header(buf, medium, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(l2..) {
                        let mut packet = Ipv4Packet::new_unchecked(ip_bytes);
                        emit_ipv4_header(&mut packet, &header, ident, caps);
                        icmp.emit(
                            &mut Icmpv4Packet::new_unchecked(packet.payload_mut()),
                            &caps.checksum,
                        );
                    }
                });
            }
            Reply::Tcp(ip, tcp) => {
                let ident = self.next_ident();
                let len = l2 + IPV4_HEADER_LEN + tcp.buffer_len();
                tx.set_meta(tcp_frame_meta(caps, 0));
                tx.consume(len, |buf| {
                    write_link_header(buf, medium, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(l2..) {
                        write_ipv4_tcp(ip_bytes, ident, &ip, &tcp, caps);
                    }
                });
            }
            #[cfg(feature = "proto-ipv6")]
            Reply::Icmpv6(header, icmp) => {
                self.emit_icmpv6_reply(tx, caps, dst_mac, &header, &icmp);
            }
            // Neighbor Discovery exists only on Ethernet here.
            #[cfg(feature = "proto-ipv6")]
            Reply::NeighborAdvert(_) if medium != Medium::Ethernet => return,
            #[cfg(feature = "proto-ipv6")]
            Reply::NeighborAdvert(advert) => {
                self.emit_neighbor_advert(tx, caps, dst_mac, advert);
            }
        }
        self.stats.tx_frames += 1;
    }
}

/// Writes the medium's link-layer header, if it has one, at the start of
/// `buf`.
pub(super) fn write_link_header(
    buf: &mut [u8],
    medium: Medium,
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
) {
    match medium {
        Medium::Ethernet => write_ethernet(buf, src, dst, ethertype),
        Medium::Ip => {}
    }
}

/// What a TCP frame's meta tells the device: whether the stack left the
/// TCP checksum to it, and the segment size to cut a super-segment into
/// (0: none).
pub(super) fn tcp_frame_meta(caps: &DeviceCapabilities, segment_size: u16) -> FrameMeta {
    let checksum = if caps.checksum.tcp.tx() && segment_size == 0 {
        crate::phy::TransportChecksum::Unknown
    } else {
        crate::phy::TransportChecksum::Partial
    };
    FrameMeta::new(checksum, segment_size)
}

pub(super) fn write_ethernet(
    buf: &mut [u8],
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
) {
    let mut frame = EthernetFrame::new_unchecked(buf);
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut frame);
}
