//! ICMPv4: echo replies to other hosts' requests, echo replies handed to
//! ICMP echo sockets, and errors handed to the TCP, UDP or echo socket
//! whose datagram they quote (RFC 792, RFC 1122 sections 3.2.2 and
//! 4.1.3.3, RFC 5927).

use super::*;
use crate::socket::{IcmpErrorKind, IcmpErrorReport};

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
                    ecn: crate::wire::IpEcn::NotEct,
                };
                self.link.stats.icmp_echo_replies += 1;
                Some(Reply::Icmp(header, reply))
            }
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } if !broadcast => {
                let from = IpAddress::Ipv4(ipv4.src_addr);
                if sockets.process_icmp_echo(cx, from, ident, seq_no, data) {
                    self.link.stats.icmp_echo_replies_received += 1;
                }
                None
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                header,
                data,
            } => {
                match header.next_header {
                    IpProtocol::Tcp => {
                        let error = icmp_error_kind(u8::from(reason), next_hop_mtu, &header);
                        self.icmp_to_tcp(cx, sockets, &header, data, error);
                    }
                    _ => {
                        let kind = IcmpErrorKind::DstUnreachable(reason);
                        self.icmp_to_datagram_socket(cx, sockets, ipv4, &header, data, kind);
                    }
                }
                None
            }
            Icmpv4Repr::TimeExceeded {
                reason,
                header,
                data,
            } => {
                match header.next_header {
                    // RFC 1122 4.2.3.9: time exceeded is a soft error.
                    IpProtocol::Tcp => {
                        self.icmp_to_tcp(cx, sockets, &header, data, IcmpError::SoftUnreachable)
                    }
                    _ => {
                        let kind = IcmpErrorKind::TimeExceeded(reason);
                        self.icmp_to_datagram_socket(cx, sockets, ipv4, &header, data, kind);
                    }
                }
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

impl Interface<'_> {
    /// Hands an ICMP error to the UDP socket (by the quoted ports) or echo
    /// socket (by the quoted identifier) that sent the datagram it quotes
    /// (RFC 1122 section 4.1.3.3: UDP passes ICMP errors to the
    /// application).
    fn icmp_to_datagram_socket(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'_>,
        ipv4: &Ipv4Repr,
        quoted: &Ipv4Repr,
        data: &[u8],
        kind: IcmpErrorKind,
    ) {
        if !self.link.has_ip(quoted.src_addr) {
            return;
        }
        // Both quote at least 8 bytes (the parser checked).
        let Some(head) = data.get(..8) else {
            return;
        };
        let reporter = IpAddress::Ipv4(ipv4.src_addr);
        let remote_addr = IpAddress::Ipv4(quoted.dst_addr);
        let delivered = match quoted.next_header {
            IpProtocol::Udp => {
                let src_port = u16::from_be_bytes([head[0], head[1]]);
                let dst_port = u16::from_be_bytes([head[2], head[3]]);
                let local = IpEndpoint::new(IpAddress::Ipv4(quoted.src_addr), src_port);
                let remote = IpEndpoint::new(remote_addr, dst_port);
                let report = IcmpErrorReport {
                    reporter,
                    remote,
                    kind,
                    at: cx.now,
                };
                sockets.udp_icmp_error(local, remote, report)
            }
            // An echo request of ours: type 8, code 0, then the identifier.
            IpProtocol::Icmp if head[0] == 8 => {
                let ident = u16::from_be_bytes([head[4], head[5]]);
                let report = IcmpErrorReport {
                    reporter,
                    remote: IpEndpoint::new(remote_addr, 0),
                    kind,
                    at: cx.now,
                };
                sockets.icmp_echo_error(ident, report)
            }
            _ => false,
        };
        if delivered {
            self.link.stats.icmp_errors_to_sockets += 1;
        }
    }
}

/// Classifies a destination-unreachable code (RFC 1122 4.2.3.9, RFC 5461):
/// protocol/port unreachable and administrative prohibitions are hard,
/// fragmentation needed carries a path MTU ([`path_mtu`]), the rest are
/// soft.
fn icmp_error_kind(code: u8, next_hop_mtu: u16, quoted: &Ipv4Repr) -> IcmpError {
    match code {
        2 | 3 | 9 | 10 | 13 => IcmpError::HardUnreachable,
        4 => IcmpError::FragmentationNeeded {
            mtu: path_mtu(next_hop_mtu, quoted),
        },
        _ => IcmpError::SoftUnreachable,
    }
}

/// The smallest path MTU a "fragmentation needed" message can set, as
/// Linux's `min_pmtu` (512 bytes of payload plus 40 of headers): a forged
/// message cannot shrink a connection's segments below a 512-byte MSS,
/// where headers would outweigh data (RFC 5927 section 7.2 describes that
/// attack). Every host accepts 576-byte datagrams (RFC 791), so real
/// paths are not below it.
const MIN_PATH_MTU: u16 = 552;

/// The plateaus of RFC 1191 section 7's table, largest first.
const MTU_PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The path MTU a "fragmentation needed" message tells (RFC 1191 section
/// 4): its next-hop MTU; when that is 0 (a router older than RFC 1191),
/// the largest plateau of section 7's table below the quoted datagram's
/// total length (section 5); at least [`MIN_PATH_MTU`].
fn path_mtu(next_hop_mtu: u16, quoted: &Ipv4Repr) -> u16 {
    let mtu = if next_hop_mtu == 0 {
        // The quoted header's own length is not kept; ours carry no
        // options, so it is 20 bytes.
        let total_len = quoted.header_len().saturating_add(quoted.payload_len);
        MTU_PLATEAUS
            .iter()
            .copied()
            .find(|&plateau| usize::from(plateau) < total_len)
            .unwrap_or(68)
    } else {
        next_hop_mtu
    };
    mtu.max(MIN_PATH_MTU)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(total_len: usize) -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Address::new(192, 0, 2, 1),
            dst_addr: Ipv4Address::new(198, 51, 100, 7),
            next_header: IpProtocol::Tcp,
            payload_len: total_len - 20,
            hop_limit: 64,
            dont_frag: true,
            ecn: crate::wire::IpEcn::NotEct,
        }
    }

    #[test]
    fn next_hop_mtu_zero_takes_the_plateau_below_the_quoted_length() {
        assert_eq!(path_mtu(0, &quoted(1500)), 1492);
        assert_eq!(path_mtu(0, &quoted(1492)), 1006);
        assert_eq!(path_mtu(0, &quoted(1493)), 1492);
        assert_eq!(path_mtu(0, &quoted(9000)), 8166);
        assert_eq!(path_mtu(0, &quoted(65535)), 32000);
        assert_eq!(path_mtu(0, &quoted(4400)), 4352);
        // Below the floor: 1006 -> 508 and 576 -> 508 are raised to 552.
        assert_eq!(path_mtu(0, &quoted(1006)), 552);
        assert_eq!(path_mtu(0, &quoted(576)), 552);
        assert_eq!(path_mtu(0, &quoted(40)), 552);
    }

    #[test]
    fn next_hop_mtu_is_used_above_the_floor() {
        assert_eq!(path_mtu(1400, &quoted(1500)), 1400);
        assert_eq!(path_mtu(552, &quoted(1500)), 552);
        assert_eq!(path_mtu(551, &quoted(1500)), 552);
        assert_eq!(path_mtu(68, &quoted(1500)), 552);
        assert_eq!(path_mtu(1, &quoted(1500)), 552);
    }

    #[test]
    fn fragmentation_needed_is_classified_with_its_path_mtu() {
        assert_eq!(
            icmp_error_kind(4, 0, &quoted(1500)),
            IcmpError::FragmentationNeeded { mtu: 1492 }
        );
        assert_eq!(
            icmp_error_kind(4, 1280, &quoted(1500)),
            IcmpError::FragmentationNeeded { mtu: 1280 }
        );
        assert_eq!(
            icmp_error_kind(3, 0, &quoted(1500)),
            IcmpError::HardUnreachable
        );
        assert_eq!(
            icmp_error_kind(1, 0, &quoted(1500)),
            IcmpError::SoftUnreachable
        );
    }
}
