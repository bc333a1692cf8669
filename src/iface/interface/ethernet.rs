//! Ethernet framing: the first step of ingress and the last of egress.

use super::*;

impl Interface<'_> {
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
        if dst != self.link.hardware_addr && !dst.is_broadcast() {
            self.link.stats.rx_drop_not_for_us += 1;
            return None;
        }
        let src_mac = eth.src_addr();
        let reply = match eth.ethertype() {
            EthernetProtocol::Arp => self.link.process_arp(cx.now, eth.payload()),
            EthernetProtocol::Ipv4 => self.process_ipv4(cx, caps, sockets, src_mac, eth.payload()),
            _ => {
                self.link.stats.rx_drop_unknown_ethertype += 1;
                None
            }
        };
        reply.map(|r| (src_mac, r))
    }
}

impl Link<'_> {
    pub(super) fn emit_reply<T: TxToken>(
        &mut self,
        tx: T,
        caps: &DeviceCapabilities,
        dst_mac: EthernetAddress,
        reply: Reply<'_>,
    ) {
        let src_mac = self.hardware_addr;
        match reply {
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
                let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + icmp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
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
                let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + tcp.buffer_len();
                tx.consume(len, |buf| {
                    write_ethernet(buf, src_mac, dst_mac, EthernetProtocol::Ipv4);
                    if let Some(ip_bytes) = buf.get_mut(ETHERNET_HEADER_LEN..) {
                        write_ipv4_tcp(ip_bytes, ident, &ip, &tcp, caps);
                    }
                });
            }
        }
        self.stats.tx_frames += 1;
    }
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
