//! TCP: parsing segments for the socket set (which demultiplexes them to
//! sockets, records and listeners), RSTs for no connection, and segment
//! output.

use super::*;

impl Interface<'_> {
    pub(super) fn process_tcp(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ip: &IpRepr,
        bytes: &[u8],
    ) -> Option<(IpRepr, TcpRepr<'static>)> {
        let stats = &mut self.link.stats;
        let Ok(packet) = TcpPacket::new_checked(bytes) else {
            stats.rx_drop_tcp_malformed += 1;
            return None;
        };
        let repr = match TcpRepr::parse(&packet, &ip.src_addr, &ip.dst_addr, &caps.checksum) {
            Ok(repr) => repr,
            Err(crate::wire::Error::BadChecksum) => {
                stats.rx_drop_tcp_checksum += 1;
                return None;
            }
            Err(_) => {
                stats.rx_drop_tcp_malformed += 1;
                return None;
            }
        };
        stats.tcp_segments_received += 1;
        cx.forward_progress = false;
        let handled = sockets.process_tcp(cx, ip, &repr);
        if cx.forward_progress {
            // The connection moved forward: its next hop is reachable (RFC
            // 4861 section 7.3.1, upper-layer confirmation).
            self.link.confirm_neighbor(ip.src_addr, cx.now);
        }
        if let Some(reply) = handled {
            // Sockets count their own replies.
            return reply;
        }
        self.link.stats.tcp_no_socket += 1;
        if self.drop_syn_fin && repr.syn() && repr.fin() {
            return None;
        }
        self.count_reply(crate::socket::tcp::rst_for_unmatched(ip, &repr))
    }

    /// Counts a reply the interface built itself (a RST for a segment that
    /// matches no socket); sockets count their own.
    pub(super) fn count_reply(
        &mut self,
        reply: Option<(IpRepr, TcpRepr<'static>)>,
    ) -> Option<(IpRepr, TcpRepr<'static>)> {
        if let Some((_, tcp)) = &reply {
            self.link.stats.tcp_segments_sent += 1;
            if tcp.rst() {
                self.link.stats.tcp_rsts_sent += 1;
            }
        }
        reply
    }
}

impl Link<'_> {
    /// Sends one TCP segment: on Ethernet straight out if the next hop's
    /// hardware address is known, else held (bounded) while ARP resolves
    /// it; on the IP medium straight out, whatever the next hop.
    /// `segment_size` (non-zero) asks the device to cut a super-segment
    /// into segments of that payload (TSO).
    pub(super) fn emit_tcp<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
        caps: &DeviceCapabilities,
        now: Instant,
        ip: &IpRepr,
        tcp: &TcpRepr,
        segment_size: u16,
    ) -> Result<(), TxBusy> {
        let ip_len = IPV4_HEADER_LEN + tcp.buffer_len();
        // A super-segment's checksums are the device's to compute.
        let mut frame_caps = *caps;
        if segment_size != 0 {
            frame_caps.checksum.tcp = crate::wire::Checksum::None;
        }
        let meta = tcp_frame_meta(caps, segment_size);
        let tso = u64::from(segment_size != 0);
        if caps.medium == Medium::Ip {
            if ip.dst_addr.as_ipv4().is_none() {
                self.stats.tx_drop_no_route += 1;
                return Ok(());
            }
            let mut token = device.transmit(now).ok_or(TxBusy)?;
            let ident = self.next_ident();
            token.set_meta(meta);
            token.consume(ip_len, |buf| {
                write_ipv4_tcp(buf, ident, ip, tcp, &frame_caps)
            });
            self.stats.tx_frames += 1;
            self.stats.tx_tso_frames += tso;
            return Ok(());
        }
        let Some(next_hop) = ip
            .dst_addr
            .as_ipv4()
            .and_then(|dst| self.next_hop(dst, now))
        else {
            self.stats.tx_drop_no_route += 1;
            return Ok(());
        };
        match self.neighbors.resolve(IpAddress::Ipv4(next_hop), now) {
            Resolution::Send(dst_mac) => {
                let mut token = device.transmit(now).ok_or(TxBusy)?;
                let ident = self.next_ident();
                let src_mac = self.hardware_addr;
                token.set_meta(meta);
                token.consume(ETHERNET_HEADER_LEN + ip_len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        write_ipv4_tcp(ip_bytes, ident, ip, tcp, &frame_caps);
                    }
                });
                self.stats.tx_frames += 1;
                self.stats.tx_tso_frames += tso;
            }
            Resolution::Hold => {
                // Held packets go out later as plain frames: a held
                // super-segment could not be cut up, so hold only what
                // fits the MTU (TCP retransmits the rest).
                if ip_len > caps.max_transmission_unit {
                    self.stats.arp_held_dropped += 1;
                } else {
                    // Sent later without meta: every checksum in software.
                    let mut plain_caps = *caps;
                    plain_caps.checksum = crate::wire::ChecksumCapabilities::default();
                    let ident = self.next_ident();
                    self.hold(now, next_hop, ip_len, |bytes| {
                        write_ipv4_tcp(bytes, ident, ip, tcp, &plain_caps)
                    });
                }
                // The request goes out at the end of this poll's egress
                // (`send_solicitations`), with the rest the cache has due.
            }
            Resolution::CacheFull => self.stats.tx_drop_neighbor_cache_full += 1,
        }
        Ok(())
    }

    /// Upper-layer advice (RFC 4861 section 7.3.1, RFC 1122 section
    /// 2.3.2.1): a TCP segment from `remote` acknowledged new data, so the
    /// next hop towards `remote` demonstrably receives what we send.
    pub(super) fn confirm_neighbor(&mut self, remote: IpAddress, now: Instant) {
        if let Some(next_hop) = remote.as_ipv4().and_then(|addr| self.next_hop(addr, now)) {
            self.neighbors.confirm(IpAddress::Ipv4(next_hop), now);
        }
    }
}

/// Writes an IPv4 header (DF set: RFC 1191 path MTU discovery) and the TCP
/// segment after it.
pub(super) fn write_ipv4_tcp(
    buf: &mut [u8],
    ident: u16,
    ip: &IpRepr,
    tcp: &TcpRepr,
    caps: &DeviceCapabilities,
) {
    // The caller routed the segment as IPv4, so both addresses are.
    let (Some(src), Some(dst)) = (ip.src_addr.as_ipv4(), ip.dst_addr.as_ipv4()) else {
        return;
    };
    let header = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: ip.hop_limit,
        dont_frag: true,
        ecn: ip.ecn,
    };
    let mut packet = Ipv4Packet::new_unchecked(buf);
    emit_ipv4_header(&mut packet, &header, ident, caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &ip.src_addr,
        &ip.dst_addr,
        &caps.checksum,
    );
}
