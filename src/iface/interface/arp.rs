//! ARP (RFC 826): answering requests, feeding the NUD neighbor cache,
//! sending its solicitations (broadcast requests, unicast probes), and the
//! queue of packets waiting for a resolution.

use super::*;
use crate::iface::neighbor::Solicitation;

impl Link<'_> {
    /// Handles one ARP packet: answers a request for one of our addresses
    /// and tells the neighbor cache what the sender says about itself. Only
    /// senders on one of our prefixes are learned.
    ///
    /// RFC 826 updates an entry from any ARP packet whose sender it holds
    /// and creates one when we are the target; under NUD (RFC 4861 section
    /// 7.2.5 read for ARP) a reply to our own request or probe confirms the
    /// entry, while anything unsolicited that changes an address leaves the
    /// entry stale and suspect until a probe is answered.
    pub(super) fn process_arp<'f>(&mut self, now: Instant, bytes: &[u8]) -> Option<Reply<'f>> {
        let repr = ArpPacket::new_checked(bytes).and_then(|packet| ArpRepr::parse(&packet));
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = repr
        else {
            self.stats.rx_drop_arp_malformed += 1;
            return None;
        };
        if !source_hardware_addr.is_unicast() {
            self.stats.rx_drop_arp_malformed += 1;
            return None;
        }
        if self.has_ip(source_protocol_addr) {
            net_debug!(
                "arp: {:?} claims our address {}",
                source_hardware_addr,
                source_protocol_addr
            );
            self.stats.rx_drop_arp_address_conflict += 1;
            return None;
        }
        if self.martian_source(source_protocol_addr).is_some() {
            self.stats.rx_drop_arp_martian += 1;
            return None;
        }
        if !source_protocol_addr.is_unicast() {
            self.stats.rx_drop_arp_malformed += 1;
            return None;
        }
        let sender = IpAddress::Ipv4(source_protocol_addr);
        let for_us = self.has_ip(target_protocol_addr);
        if self.is_on_link(source_protocol_addr) {
            match (operation, for_us) {
                (ArpOperation::Reply, true) => {
                    self.neighbors.answer(sender, source_hardware_addr, now)
                }
                (ArpOperation::Request, true) => {
                    self.neighbors.learn(sender, source_hardware_addr, now)
                }
                // A gratuitous ARP, or traffic between others: update only.
                _ => self
                    .neighbors
                    .update_known(sender, source_hardware_addr, now),
            }
        }
        if operation == ArpOperation::Request && for_us {
            self.stats.arp_replies_sent += 1;
            return Some(Reply::Arp(ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: self.hardware_addr,
                source_protocol_addr: target_protocol_addr,
                target_hardware_addr: source_hardware_addr,
                target_protocol_addr: source_protocol_addr,
            }));
        }
        None
    }

    /// Sends every solicitation the neighbor cache has due: an ARP request
    /// broadcast for a resolution, or unicast to the cached address for a
    /// probe. Returns whether a frame went out.
    pub(super) fn send_solicitations<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
    ) -> bool {
        let mut sent = false;
        // Each solicitation sent moves its entry's timer past `now`, so
        // there is at most one per entry.
        for _ in 0..self.neighbors.capacity() {
            let Some(solicitation) = self.neighbors.due_solicitation(now) else {
                break;
            };
            match self.send_arp_request(device, now, solicitation) {
                Ok(frame_sent) => sent |= frame_sent,
                Err(TxBusy) => {
                    self.stats.tx_device_busy += 1;
                    break;
                }
            }
            self.neighbors.solicitation_sent(solicitation.target, now);
        }
        sent
    }

    /// Sends the ARP request for `solicitation`. `Ok(false)` when none can
    /// be sent (no IPv4 address of ours to ask from, or an IPv6 target,
    /// which ARP cannot ask about): the cache's round runs its course
    /// anyway, so an impossible resolution ends.
    fn send_arp_request<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        solicitation: Solicitation,
    ) -> Result<bool, TxBusy> {
        let Some(target) = solicitation.target.as_ipv4() else {
            return Ok(false);
        };
        let Some(source) = self
            .ip_addrs
            .iter()
            .flatten()
            .find(|cidr| cidr.contains(target))
            .or_else(|| self.ip_addrs.iter().flatten().next())
            .map(|cidr| cidr.address())
        else {
            return Ok(false);
        };
        let token = device.transmit(now).ok_or(TxBusy)?;
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: self.hardware_addr,
            source_protocol_addr: source,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        let src_mac = self.hardware_addr;
        let dst_mac = solicitation.unicast.unwrap_or(EthernetAddress::BROADCAST);
        token.consume(ETHERNET_HEADER_LEN + arp.buffer_len(), |buf| {
            write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Arp);
            if let Some(payload) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                arp.emit(&mut ArpPacket::new_unchecked(payload));
            }
        });
        self.stats.arp_requests_sent += 1;
        if solicitation.unicast.is_some() {
            self.stats.arp_unicast_probes_sent += 1;
        }
        self.stats.tx_frames += 1;
        Ok(true)
    }

    /// Sends a DHCP client's ARP probe or announcement (RFC 5227 sections
    /// 2.1.1 and 2.3): a broadcast request from our hardware address with
    /// the sender and target addresses the client gave.
    pub(super) fn emit_dhcp_arp<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        now: Instant,
        out: &crate::socket::dhcpv4::ArpOut,
    ) -> Result<(), TxBusy> {
        let token = device.transmit(now).ok_or(TxBusy)?;
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: self.hardware_addr,
            source_protocol_addr: out.sender_ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: out.target_ip,
        };
        let src_mac = self.hardware_addr;
        token.consume(ETHERNET_HEADER_LEN + arp.buffer_len(), |buf| {
            write_ethernet(
                buf,
                src_mac,
                EthernetAddress::BROADCAST,
                EthernetProtocol::Arp,
            );
            if let Some(payload) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                arp.emit(&mut ArpPacket::new_unchecked(payload));
            }
        });
        self.stats.arp_requests_sent += 1;
        self.stats.tx_frames += 1;
        Ok(())
    }

    /// Appends an IP packet of `len` bytes, written by `write`, to the held
    /// queue; drops it (counted) when there is no room. TCP retransmits.
    pub(super) fn hold(
        &mut self,
        now: Instant,
        next_hop: Ipv4Address,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) {
        let start = self.held_len;
        let end = start + HELD_RECORD_HEADER + len;
        let Some(record) = self.held.get_mut(start..end) else {
            self.stats.arp_held_dropped += 1;
            return;
        };
        let (header, packet) = record.split_at_mut(HELD_RECORD_HEADER);
        header[0..4].copy_from_slice(next_hop.as_bytes());
        header[4..12].copy_from_slice(&now.total_micros().to_be_bytes());
        // `len` is an IP packet length, at most 65535.
        header[12..16].copy_from_slice(&(len as u32).to_be_bytes());
        write(packet);
        self.held_len = end;
        if self.held_wake.is_none() {
            self.held_wake = Some(now + HELD_RECHECK_INTERVAL);
        }
    }

    /// Sends held packets whose next hop is now known, drops expired ones,
    /// and keeps the rest in order.
    pub(super) fn flush_held<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
    ) -> bool {
        let mut read = 0;
        let mut write = 0;
        let mut sent = false;
        let mut busy = false;
        while read + HELD_RECORD_HEADER <= self.held_len {
            let header = &self.held[read..read + HELD_RECORD_HEADER];
            let next_hop = Ipv4Address([header[0], header[1], header[2], header[3]]);
            let mut micros = [0u8; 8];
            micros.copy_from_slice(&header[4..12]);
            let since = Instant::from_micros(i64::from_be_bytes(micros));
            let len = u32::from_be_bytes([header[12], header[13], header[14], header[15]]) as usize;
            let record_len = HELD_RECORD_HEADER + len;
            let mut keep = true;
            let expired = now - since >= HELD_PACKET_LIFETIME;
            if expired {
                self.stats.arp_held_dropped += 1;
                keep = false;
            } else if !busy {
                // Resolving again restarts a resolution that failed or was
                // flushed while the packet waited (within the rate limit).
                if let Resolution::Send(dst_mac) =
                    self.neighbors.resolve(IpAddress::Ipv4(next_hop), now)
                {
                    match device.transmit(now) {
                        Some(token) => {
                            let src_mac = self.hardware_addr;
                            let packet = &self.held[read + HELD_RECORD_HEADER..read + record_len];
                            token.consume(ETHERNET_HEADER_LEN + len, |buf| {
                                write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                                if let Some(dst) =
                                    buf.get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + len)
                                {
                                    dst.copy_from_slice(packet);
                                }
                            });
                            let _ = caps;
                            self.stats.tx_frames += 1;
                            sent = true;
                            keep = false;
                        }
                        None => busy = true,
                    }
                }
            }
            if keep {
                if write != read {
                    self.held.copy_within(read..read + record_len, write);
                }
                write += record_len;
            }
            read += record_len;
        }
        self.held_len = write;
        self.held_wake = (write > 0).then_some(now + HELD_RECHECK_INTERVAL);
        sent
    }
}
