//! ICMPv4: echo replies and errors handed to TCP (RFC 792, RFC 1122
//! section 3.2.2, RFC 5927).

use super::*;

impl Interface<'_> {
    pub(super) fn process_icmp<'f>(
        &mut self,
        cx: &mut Context,
        caps: &DeviceCapabilities,
        sockets: &mut SocketSet<'_>,
        ipv4: &Ipv4Repr,
        broadcast: bool,
        bytes: &'f [u8],
    ) -> Option<Reply<'f>> {
        let repr = Icmpv4Packet::new_checked(bytes)
            .and_then(|packet| Icmpv4Repr::parse(&packet, &caps.checksum));
        let Ok(repr) = repr else {
            self.link.stats.rx_drop_icmp_malformed += 1;
            return None;
        };
        match repr {
            // RFC 1122 3.2.2.6: echo requests to a broadcast address may be
            // ignored; we answer only those sent to us.
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } if !broadcast => {
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let header = Ipv4Repr {
                    src_addr: ipv4.dst_addr,
                    dst_addr: ipv4.src_addr,
                    next_header: IpProtocol::Icmp,
                    payload_len: reply.buffer_len(),
                    hop_limit: DEFAULT_HOP_LIMIT,
                    dont_frag: false,
                };
                self.link.stats.icmp_echo_replies += 1;
                Some(Reply::Icmp(header, reply))
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                data,
            } => {
                let error = icmp_error_kind(u8::from(reason), next_hop_mtu);
                self.icmp_to_tcp(cx, sockets, &header, data, error);
                None
            }
            Icmpv4Repr::TimeExceeded { header, data, .. } => {
                // RFC 1122 4.2.3.9: time exceeded is a soft error.
                self.icmp_to_tcp(cx, sockets, &header, data, IcmpError::SoftUnreachable);
                None
            }
            _ => None,
        }
    }

    /// Hands an ICMP error to the TCP connection its quoted header names
    /// (RFC 5927: the socket checks the quoted sequence number).
    pub(super) fn icmp_to_tcp(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'_>,
        quoted: &Ipv4Repr,
        data: &[u8],
        error: IcmpError,
    ) {
        if quoted.next_header != IpProtocol::Tcp || !self.link.has_ip(quoted.src_addr) {
            return;
        }
        // The quoted TCP header's first 8 bytes: ports and sequence number.
        let Some(head) = data.get(..8) else {
            return;
        };
        let src_port = u16::from_be_bytes([head[0], head[1]]);
        let dst_port = u16::from_be_bytes([head[2], head[3]]);
        let seq = crate::wire::SeqNumber(u32::from_be_bytes([head[4], head[5], head[6], head[7]]));
        let local = IpEndpoint::new(IpAddress::Ipv4(quoted.src_addr), src_port);
        let remote = IpEndpoint::new(IpAddress::Ipv4(quoted.dst_addr), dst_port);
        if sockets.tcp_icmp_error(cx, local, remote, seq, error) {
            self.link.stats.icmp_errors_to_tcp += 1;
        }
    }
}

/// Classifies a destination-unreachable code (RFC 1122 4.2.3.9, RFC 5461):
/// protocol/port unreachable and administrative prohibitions are hard,
/// fragmentation needed carries a path MTU, the rest are soft.
fn icmp_error_kind(code: u8, next_hop_mtu: u16) -> IcmpError {
    match code {
        2 | 3 | 9 | 10 | 13 => IcmpError::HardUnreachable,
        4 => IcmpError::FragmentationNeeded { mtu: next_hop_mtu },
        _ => IcmpError::SoftUnreachable,
    }
}
