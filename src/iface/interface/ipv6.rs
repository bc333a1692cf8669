//! IPv6 ingress (RFC 8200): header validation, the destinations we accept,
//! ICMPv6 echo (RFC 4443 section 4) and the Neighbor Discovery minimum
//! (RFC 4861 section 7.2: answering a solicitation for one of our
//! addresses and learning the solicitor's link-layer address).
//!
//! Everything here exists only with the `proto-ipv6` feature; the IPv4
//! path never reaches it.

use super::*;
use crate::iface::AddressError;
use crate::wire::{
    Icmpv6Packet, Icmpv6Repr, Ipv6Address, Ipv6Cidr, Ipv6Packet, Ipv6Repr, NdiscNeighborFlags,
    NdiscOption, NdiscOptions, NdiscRepr,
};

/// The hop limit every Neighbor Discovery message is sent with and must
/// arrive with (RFC 4861 sections 6.1.2, 7.1.1, 7.1.2).
const NDP_HOP_LIMIT: u8 = 255;
/// Length of the fixed IPv6 header (RFC 8200 section 3).
pub(super) const IPV6_HEADER_LEN: usize = 40;

/// A Neighbor Advertisement to send in answer to a solicitation
/// (RFC 4861 section 7.2.4).
#[derive(Debug, Clone, Copy)]
pub(super) struct NeighborAdvert {
    /// Our address the solicitation asked for: the NA's source and target.
    pub(super) target: Ipv6Address,
    /// The solicitor's address.
    pub(super) dst: Ipv6Address,
}

impl Interface<'_> {
    /// An IPv6 packet (EtherType 0x86DD, or version 6 on the IP medium).
    /// `src_mac` is the frame's sender on Ethernet (`None` on the IP
    /// medium, where Neighbor Discovery does not run).
    pub(super) fn process_ipv6<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        src_mac: Option<EthernetAddress>,
        packet: &'f [u8],
    ) -> Option<Reply<'f>> {
        // RFC 8200 section 3: version 6, and a payload length the frame
        // holds (bytes past it are link-layer padding).
        let parsed = Ipv6Packet::new_checked(packet)
            .and_then(|p| Ipv6Repr::parse(&p).map(|repr| (repr, p.payload())));
        let Ok((ipv6, payload)) = parsed else {
            self.link.stats.rx_drop_ipv6_malformed += 1;
            return None;
        };
        // RFC 4291 section 2.7: a multicast address is never a source.
        if ipv6.src_addr.is_multicast() {
            self.link.stats.rx_drop_martian_multicast += 1;
            return None;
        }
        if !self.link.accepts_ipv6(ipv6.dst_addr) {
            self.link.stats.rx_drop_ipv6_not_for_us += 1;
            return None;
        }
        match ipv6.next_header {
            IpProtocol::Icmpv6 => self.process_icmpv6(cx, caps, src_mac, &ipv6, payload),
            _ => {
                self.link.stats.rx_drop_unknown_protocol += 1;
                None
            }
        }
    }

    fn process_icmpv6<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        src_mac: Option<EthernetAddress>,
        ipv6: &Ipv6Repr,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        // RFC 4443 section 2.3: the checksum covers the pseudo-header.
        let repr = Icmpv6Packet::new_checked(bytes).and_then(|packet| {
            Icmpv6Repr::parse(&ipv6.src_addr, &ipv6.dst_addr, &packet, &caps.checksum)
        });
        let Ok(repr) = repr else {
            self.link.stats.rx_drop_icmpv6_malformed += 1;
            return None;
        };
        match repr {
            // RFC 4443 section 4.2: the reply carries the request's
            // identifier, sequence number and data. Requests to a group
            // (ff02::1) are not answered: the reply's source would have to
            // be chosen, and RFC 4443 only says "should" answer them.
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if !ipv6.dst_addr.is_multicast() && ipv6.src_addr.is_unicast() => {
                let reply = Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let header = Ipv6Repr {
                    src_addr: ipv6.dst_addr,
                    dst_addr: ipv6.src_addr,
                    next_header: IpProtocol::Icmpv6,
                    payload_len: reply.buffer_len(),
                    hop_limit: DEFAULT_HOP_LIMIT,
                    traffic_class: 0,
                    flow_label: 0,
                };
                self.link.stats.icmpv6_echo_replies += 1;
                Some(Reply::Icmpv6(header, reply))
            }
            Icmpv6Repr::Ndisc(ndisc) if src_mac.is_some() => {
                self.process_ndisc(cx.now, ipv6, &ndisc)
            }
            _ => {
                self.link.stats.rx_icmpv6_ignored += 1;
                None
            }
        }
    }

    fn process_ndisc<'f>(
        &mut self,
        now: Instant,
        ipv6: &Ipv6Repr,
        ndisc: &NdiscRepr<'_>,
    ) -> Option<Reply<'f>> {
        // RFC 4861 sections 7.1.1 and 7.1.2: a router may not have
        // forwarded it.
        if ipv6.hop_limit != NDP_HOP_LIMIT {
            self.link.stats.rx_drop_ndp_invalid += 1;
            return None;
        }
        match *ndisc {
            NdiscRepr::NeighborSolicit {
                target_addr,
                options,
            } => {
                let source_lladdr = options.source_lladdr();
                // Section 7.1.1: a solicitation from the unspecified
                // address (duplicate address detection) goes to the
                // target's solicited-node group and has no source
                // link-layer option.
                if ipv6.src_addr.is_unspecified()
                    && (source_lladdr.is_some() || ipv6.dst_addr != target_addr.solicited_node())
                {
                    self.link.stats.rx_drop_ndp_invalid += 1;
                    return None;
                }
                if !self.link.has_ipv6(target_addr) {
                    self.link.stats.rx_icmpv6_ignored += 1;
                    return None;
                }
                if ipv6.src_addr.is_unspecified() {
                    // Another node probes for our address (RFC 4862
                    // section 5.4.3); defending it is not done yet.
                    self.link.stats.rx_icmpv6_ignored += 1;
                    return None;
                }
                // Section 7.2.3: the source link-layer option creates or
                // updates the solicitor's entry (stale until confirmed).
                if let Some(mac) = source_lladdr {
                    self.link
                        .neighbors
                        .learn(IpAddress::Ipv6(ipv6.src_addr), mac, now);
                } else if ipv6.dst_addr.is_multicast() {
                    // Section 7.1.1: a multicast solicitation from a
                    // unicast source carries the option; without it the
                    // answer's link-layer destination is unknown.
                    self.link.stats.rx_drop_ndp_invalid += 1;
                    return None;
                }
                // Section 7.2.4: a solicited advertisement, sent unicast to
                // the solicitor (to the frame's sender, whose address we
                // just learned or which sent it to us directly).
                self.link.stats.ndp_advertisements_sent += 1;
                Some(Reply::NeighborAdvert(NeighborAdvert {
                    target: target_addr,
                    dst: ipv6.src_addr,
                }))
            }
            NdiscRepr::NeighborAdvert {
                flags,
                target_addr,
                options,
            } => {
                // Section 7.1.2: a solicited advertisement to a group is
                // invalid.
                if ipv6.dst_addr.is_multicast() && flags.contains(NdiscNeighborFlags::SOLICITED) {
                    self.link.stats.rx_drop_ndp_invalid += 1;
                    return None;
                }
                // Section 7.2.5: an advertisement completes a resolution we
                // asked for; an unsolicited one only updates what we hold.
                if let Some(mac) = options.target_lladdr() {
                    self.link
                        .neighbors
                        .answer(IpAddress::Ipv6(target_addr), mac, now);
                }
                None
            }
            _ => {
                self.link.stats.rx_icmpv6_ignored += 1;
                None
            }
        }
    }
}

impl Link<'_> {
    /// Whether `addr` is one of our IPv6 unicast addresses.
    pub(super) fn has_ipv6(&self, addr: Ipv6Address) -> bool {
        self.ip6_addrs
            .iter()
            .flatten()
            .any(|cidr| cidr.address() == addr)
    }

    /// Whether a packet to `dst` is for us: one of our unicast addresses,
    /// the all-nodes group ff02::1, or the solicited-node group of one of
    /// our addresses (RFC 4291 section 2.8: the groups every node joins).
    pub(super) fn accepts_ipv6(&self, dst: Ipv6Address) -> bool {
        if dst.is_multicast() {
            dst == Ipv6Address::LINK_LOCAL_ALL_NODES
                || self
                    .ip6_addrs
                    .iter()
                    .flatten()
                    .any(|cidr| cidr.address().solicited_node() == dst)
        } else {
            self.has_ipv6(dst)
        }
    }

    /// Whether a frame to the Ethernet group `dst` may carry a packet for
    /// one of the groups [`accepts_ipv6`](Self::accepts_ipv6) takes (RFC
    /// 2464 section 7: 33:33 and the group address's low 32 bits).
    pub(super) fn accepts_ipv6_group_mac(&self, dst: EthernetAddress) -> bool {
        let ours = |group: Ipv6Address| {
            let g = group.0;
            dst.0 == [0x33, 0x33, g[12], g[13], g[14], g[15]]
        };
        ours(Ipv6Address::LINK_LOCAL_ALL_NODES)
            || self
                .ip6_addrs
                .iter()
                .flatten()
                .any(|cidr| ours(cidr.address().solicited_node()))
    }

    /// Adds (or re-prefixes) an IPv6 address.
    pub(super) fn add_ipv6_addr(&mut self, cidr: Ipv6Cidr) -> Result<(), AddressError> {
        let address = cidr.address();
        if !address.is_unicast() || address.is_loopback() || address.to_ipv4_mapped().is_some() {
            return Err(AddressError::NotUnicast);
        }
        let slot = match self
            .ip6_addrs
            .iter()
            .position(|a| a.is_some_and(|a| a.address() == address))
        {
            Some(existing) => existing,
            None => self
                .ip6_addrs
                .iter()
                .position(Option::is_none)
                .ok_or(AddressError::Full)?,
        };
        self.ip6_addrs[slot] = Some(cidr);
        Ok(())
    }

    /// Removes an IPv6 address and returns it with its prefix.
    pub(super) fn remove_ipv6_addr(&mut self, addr: Ipv6Address) -> Option<Ipv6Cidr> {
        let slot = self
            .ip6_addrs
            .iter()
            .position(|a| a.is_some_and(|a| a.address() == addr))?;
        self.ip6_addrs[slot].take()
    }

    /// Writes an ICMPv6 reply's link-layer and IPv6 headers and message.
    pub(super) fn emit_icmpv6_reply<T: TxToken>(
        &mut self,
        tx: T,
        caps: &DeviceCapabilities,
        dst_mac: EthernetAddress,
        header: &Ipv6Repr,
        icmp: &Icmpv6Repr<'_>,
    ) {
        let src_mac = self.hardware_addr;
        let medium = caps.medium;
        let l2 = medium.header_len();
        let len = l2 + IPV6_HEADER_LEN + icmp.buffer_len();
        tx.consume(len, |buf| {
            super::ethernet::write_link_header(
                buf,
                medium,
                src_mac,
                dst_mac,
                EthernetProtocol::Ipv6,
            );
            if let Some(ip_bytes) = buf.get_mut(l2..) {
                let mut packet = Ipv6Packet::new_unchecked(ip_bytes);
                header.emit(&mut packet);
                icmp.emit(
                    &header.src_addr,
                    &header.dst_addr,
                    &mut Icmpv6Packet::new_unchecked(packet.payload_mut()),
                    &caps.checksum,
                );
            }
        });
    }

    /// Writes a solicited Neighbor Advertisement (RFC 4861 section 7.2.4):
    /// Solicited and Override set, our link-layer address as the target
    /// link-layer option, hop limit 255.
    pub(super) fn emit_neighbor_advert<T: TxToken>(
        &mut self,
        tx: T,
        caps: &DeviceCapabilities,
        dst_mac: EthernetAddress,
        advert: NeighborAdvert,
    ) {
        let mut option_bytes = [0u8; 8];
        let option = [NdiscOption::TargetLinkLayerAddr(self.hardware_addr)];
        let Ok(options) = NdiscOptions::emit_from(&option, &mut option_bytes) else {
            // Eight bytes always hold an Ethernet address option.
            return;
        };
        let icmp = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::OVERRIDE,
            target_addr: advert.target,
            options,
        });
        let header = Ipv6Repr {
            src_addr: advert.target,
            dst_addr: advert.dst,
            next_header: IpProtocol::Icmpv6,
            payload_len: icmp.buffer_len(),
            hop_limit: NDP_HOP_LIMIT,
            traffic_class: 0,
            flow_label: 0,
        };
        self.emit_icmpv6_reply(tx, caps, dst_mac, &header, &icmp);
    }
}
