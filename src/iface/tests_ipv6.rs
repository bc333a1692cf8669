//! IPv6 ingress tests: exact packets in, replies parsed back (checksums
//! verified over the IPv6 pseudo-header), exact counters.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::tests::ScriptDevice;
use super::{AddressError, Config, Interface};
use crate::socket::SocketSet;
use crate::time::Instant;
use crate::wire::*;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
const OUR_IP6: Ipv6Address = Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x12, 0x3401);
const PEER_IP6: Ipv6Address = Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9);
const OTHER_IP6: Ipv6Address = Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7);

fn setup() -> (Interface<'static>, ScriptDevice, SocketSet<'static>) {
    let config =
        Config::new(OUR_MAC, 7).with_ip(Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, 1), 24).unwrap());
    let mut iface = Interface::new(config).unwrap();
    iface
        .add_ip_addr(Ipv6Cidr::new(OUR_IP6, 64).unwrap())
        .unwrap();
    (iface, ScriptDevice::default(), SocketSet::with_capacity(4))
}

/// An IPv6 packet from the peer: header, then `payload`.
fn ipv6_packet(src: Ipv6Address, dst: Ipv6Address, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 40 + payload.len()];
    let repr = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: payload.len(),
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
    };
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut bytes[..]));
    bytes[40..].copy_from_slice(payload);
    bytes
}

fn icmpv6(src: Ipv6Address, dst: Ipv6Address, repr: &Icmpv6Repr) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(
        &src,
        &dst,
        &mut Icmpv6Packet::new_unchecked(&mut bytes[..]),
        &ChecksumCapabilities::default(),
    );
    bytes
}

fn frame(dst_mac: EthernetAddress, packet: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + packet.len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    frame[14..].copy_from_slice(packet);
    frame
}

fn echo_request<'a>(data: &'a [u8]) -> Icmpv6Repr<'a> {
    Icmpv6Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data,
    }
}

/// The group MAC of an IPv6 multicast address (RFC 2464 section 7).
fn group_mac(group: Ipv6Address) -> EthernetAddress {
    let g = group.0;
    EthernetAddress([0x33, 0x33, g[12], g[13], g[14], g[15]])
}

fn run(frames: Vec<Vec<u8>>) -> (Interface<'static>, ScriptDevice) {
    let (mut iface, mut dev, mut sockets) = setup();
    dev.rx.extend(frames);
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    (iface, dev)
}

/// Parses a sent frame: Ethernet, IPv6 and ICMPv6 (checksum verified).
fn parse_sent(frame: &[u8]) -> (EthernetRepr, Ipv6Repr, Icmpv6Repr<'_>) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let eth_repr = EthernetRepr::parse(&eth).unwrap();
    let ip = Ipv6Packet::new_checked(&frame[14..]).unwrap();
    let ip_repr = Ipv6Repr::parse(&ip).unwrap();
    assert_eq!(frame.len(), 14 + 40 + ip_repr.payload_len);
    let icmp = Icmpv6Packet::new_checked(&frame[54..]).unwrap();
    assert!(icmp.verify_checksum(&ip_repr.src_addr, &ip_repr.dst_addr));
    let repr = Icmpv6Repr::parse(
        &ip_repr.src_addr,
        &ip_repr.dst_addr,
        &icmp,
        &ChecksumCapabilities::default(),
    )
    .unwrap();
    (eth_repr, ip_repr, repr)
}

#[test]
fn echo_request_to_our_address_gets_reply() {
    let data = *b"pollnet ipv6 echo";
    let request = icmpv6(PEER_IP6, OUR_IP6, &echo_request(&data));
    let mut packet = ipv6_packet(PEER_IP6, OUR_IP6, 64, &request);
    // Link-layer padding past the payload length is not part of the packet.
    packet.extend_from_slice(&[0xee; 5]);
    let (iface, dev) = run(vec![frame(OUR_MAC, &packet)]);
    assert_eq!(dev.tx.len(), 1);
    let (eth, ip, icmp) = parse_sent(&dev.tx[0]);
    assert_eq!(
        eth,
        EthernetRepr {
            src_addr: OUR_MAC,
            dst_addr: PEER_MAC,
            ethertype: EthernetProtocol::Ipv6,
        }
    );
    assert_eq!(
        ip,
        Ipv6Repr {
            src_addr: OUR_IP6,
            dst_addr: PEER_IP6,
            next_header: IpProtocol::Icmpv6,
            payload_len: 8 + data.len(),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    );
    assert_eq!(
        icmp,
        Icmpv6Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: &data,
        }
    );
    // The reply differs from the request in type (129) and checksum only:
    // the pseudo-header sum is symmetric in the addresses, so the checksum
    // changes by exactly the type's difference (RFC 1624 arithmetic).
    let reply_icmp = &dev.tx[0][54..];
    assert_eq!(reply_icmp[0], 129);
    let req_sum = u16::from_be_bytes([request[2], request[3]]);
    let reply_sum = u16::from_be_bytes([reply_icmp[2], reply_icmp[3]]);
    let expected = {
        // ~(~req + 128 - 129) in one's complement: the sum grows by 0x100
        // when the type grows by one, so the checksum shrinks by it.
        let sum = u32::from(!req_sum) + 0x0100;
        let folded = (sum & 0xffff) + (sum >> 16);
        !(folded as u16)
    };
    assert_eq!(reply_sum, expected);
    assert_eq!(&reply_icmp[4..], &request[4..]);
    let stats = iface.stats();
    assert_eq!(stats.icmpv6_echo_replies, 1);
    assert_eq!(stats.tx_frames, 1);
}

#[test]
fn echo_request_with_bad_checksum_is_dropped() {
    let mut request = icmpv6(PEER_IP6, OUR_IP6, &echo_request(b"abc"));
    request[2] ^= 0x01;
    let (iface, dev) = run(vec![frame(
        OUR_MAC,
        &ipv6_packet(PEER_IP6, OUR_IP6, 64, &request),
    )]);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().rx_drop_icmpv6_malformed, 1);
    assert_eq!(iface.stats().icmpv6_echo_replies, 0);
}

#[test]
fn bad_headers_and_other_destinations_are_counted() {
    let request = icmpv6(PEER_IP6, OTHER_IP6, &echo_request(b"abc"));
    let not_ours = ipv6_packet(PEER_IP6, OTHER_IP6, 64, &request);
    let mut past_frame = ipv6_packet(PEER_IP6, OUR_IP6, 64, &request);
    past_frame.truncate(past_frame.len() - 1);
    let mut version_4 = ipv6_packet(PEER_IP6, OUR_IP6, 64, &request);
    version_4[0] = 0x40;
    let short = vec![0x60; 39];
    let mut multicast_source = ipv6_packet(OUR_IP6, OUR_IP6, 64, &request);
    multicast_source[8] = 0xff;
    let (iface, dev) = run(vec![
        frame(OUR_MAC, &not_ours),
        frame(OUR_MAC, &past_frame),
        frame(OUR_MAC, &version_4),
        frame(OUR_MAC, &short),
        frame(OUR_MAC, &multicast_source),
    ]);
    assert!(dev.tx.is_empty());
    let stats = iface.stats();
    assert_eq!(stats.rx_drop_ipv6_not_for_us, 1);
    assert_eq!(stats.rx_drop_ipv6_malformed, 3);
    assert_eq!(stats.rx_drop_martian_multicast, 1);
    assert_eq!(stats.icmpv6_echo_replies, 0);
}

#[test]
fn groups_we_listen_to_pass_the_link_filter() {
    let all_nodes = Ipv6Address::LINK_LOCAL_ALL_NODES;
    let to_all = icmpv6(PEER_IP6, all_nodes, &echo_request(b"x"));
    let other_group = OTHER_IP6.solicited_node();
    let to_other = icmpv6(PEER_IP6, other_group, &echo_request(b"x"));
    let (iface, dev) = run(vec![
        frame(
            group_mac(all_nodes),
            &ipv6_packet(PEER_IP6, all_nodes, 64, &to_all),
        ),
        frame(
            group_mac(other_group),
            &ipv6_packet(PEER_IP6, other_group, 64, &to_other),
        ),
    ]);
    // An echo request to a group is accepted and not answered; a frame to
    // a group we are not in stops at the link layer.
    assert!(dev.tx.is_empty());
    let stats = iface.stats();
    assert_eq!(stats.rx_icmpv6_ignored, 1);
    assert_eq!(stats.rx_drop_not_for_us, 1);
    assert_eq!(stats.rx_drop_ipv6_not_for_us, 0);
}

fn neighbor_solicit(target: Ipv6Address, dst: Ipv6Address, source_lladdr: bool) -> Vec<u8> {
    let mut option_bytes = [0u8; 8];
    let options = if source_lladdr {
        NdiscOptions::emit_from(
            &[NdiscOption::SourceLinkLayerAddr(PEER_MAC)],
            &mut option_bytes,
        )
        .unwrap()
    } else {
        NdiscOptions::emit_from(&[], &mut option_bytes).unwrap()
    };
    let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
        target_addr: target,
        options,
    });
    icmpv6(PEER_IP6, dst, &ns)
}

#[test]
fn neighbor_solicitation_gets_solicited_advertisement() {
    let group = OUR_IP6.solicited_node();
    let ns = neighbor_solicit(OUR_IP6, group, true);
    let (iface, dev) = run(vec![frame(
        group_mac(group),
        &ipv6_packet(PEER_IP6, group, 255, &ns),
    )]);
    assert_eq!(dev.tx.len(), 1);
    let (eth, ip, icmp) = parse_sent(&dev.tx[0]);
    assert_eq!(eth.dst_addr, PEER_MAC);
    assert_eq!(eth.src_addr, OUR_MAC);
    assert_eq!(ip.src_addr, OUR_IP6);
    assert_eq!(ip.dst_addr, PEER_IP6);
    assert_eq!(ip.hop_limit, 255);
    assert_eq!(ip.payload_len, 32);
    let Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags,
        target_addr,
        options,
    }) = icmp
    else {
        panic!("not an advertisement: {icmp:?}");
    };
    assert_eq!(
        flags,
        NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::OVERRIDE
    );
    assert_eq!(target_addr, OUR_IP6);
    assert_eq!(options.target_lladdr(), Some(OUR_MAC));
    // Type 136, code 0, flags 0x60, the target, option 2 length 1, our MAC.
    let na = &dev.tx[0][54..];
    assert_eq!(&na[..2], &[136, 0]);
    assert_eq!(&na[4..8], &[0x60, 0, 0, 0]);
    assert_eq!(&na[8..24], &OUR_IP6.0);
    assert_eq!(&na[24..], &[2, 1, 2, 0, 0, 0, 0, 1]);
    // Section 7.2.3: the solicitor's link-layer address is learned.
    assert_eq!(iface.neighbor(PEER_IP6, Instant::ZERO), Some(PEER_MAC));
    assert_eq!(iface.stats().ndp_advertisements_sent, 1);
}

#[test]
fn invalid_or_foreign_solicitations_are_not_answered() {
    let group = OUR_IP6.solicited_node();
    let forwarded = ipv6_packet(PEER_IP6, group, 64, &neighbor_solicit(OUR_IP6, group, true));
    // A solicitation for another node's address, sent to our address.
    let foreign = ipv6_packet(
        PEER_IP6,
        OUR_IP6,
        255,
        &neighbor_solicit(OTHER_IP6, OUR_IP6, true),
    );
    let no_lladdr = ipv6_packet(
        PEER_IP6,
        group,
        255,
        &neighbor_solicit(OUR_IP6, group, false),
    );
    let (iface, dev) = run(vec![
        frame(group_mac(group), &forwarded),
        frame(OUR_MAC, &foreign),
        frame(group_mac(group), &no_lladdr),
    ]);
    assert!(dev.tx.is_empty());
    let stats = iface.stats();
    // Hop limit 64 and a multicast solicitation without the source
    // link-layer option are invalid (RFC 4861 section 7.1.1).
    assert_eq!(stats.rx_drop_ndp_invalid, 2);
    assert_eq!(stats.rx_icmpv6_ignored, 1);
    assert_eq!(stats.ndp_advertisements_sent, 0);
    assert_eq!(iface.neighbor(PEER_IP6, Instant::ZERO), None);
}

#[test]
fn ipv6_addresses_are_added_and_removed() {
    let (mut iface, mut dev, mut sockets) = setup();
    assert_eq!(
        iface.add_ip_addr(Ipv6Cidr::new(Ipv6Address::LINK_LOCAL_ALL_NODES, 128).unwrap()),
        Err(AddressError::NotUnicast)
    );
    assert_eq!(
        iface.remove_ip_addr(OUR_IP6, &mut sockets, Instant::ZERO),
        Ok(IpCidr::Ipv6(Ipv6Cidr::new(OUR_IP6, 64).unwrap()))
    );
    assert_eq!(
        iface.remove_ip_addr(OUR_IP6, &mut sockets, Instant::ZERO),
        Err(AddressError::NotFound)
    );
    let request = icmpv6(PEER_IP6, OUR_IP6, &echo_request(b"abc"));
    dev.rx.push_back(frame(
        OUR_MAC,
        &ipv6_packet(PEER_IP6, OUR_IP6, 64, &request),
    ));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().rx_drop_ipv6_not_for_us, 1);
}

#[test]
fn echo_on_the_ip_medium() {
    let (mut iface, _, mut sockets) = setup();
    let mut dev = ScriptDevice {
        medium_ip: true,
        ..ScriptDevice::default()
    };
    let request = icmpv6(PEER_IP6, OUR_IP6, &echo_request(b"ip medium"));
    dev.rx
        .push_back(ipv6_packet(PEER_IP6, OUR_IP6, 64, &request));
    iface.poll(Instant::ZERO, &mut dev, &mut sockets);
    assert_eq!(dev.tx.len(), 1);
    let sent = &dev.tx[0];
    let ip = Ipv6Repr::parse(&Ipv6Packet::new_checked(&sent[..]).unwrap()).unwrap();
    assert_eq!((ip.src_addr, ip.dst_addr), (OUR_IP6, PEER_IP6));
    let icmp = Icmpv6Packet::new_checked(&sent[40..]).unwrap();
    let repr =
        Icmpv6Repr::parse(&OUR_IP6, &PEER_IP6, &icmp, &ChecksumCapabilities::default()).unwrap();
    assert_eq!(
        repr,
        Icmpv6Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"ip medium",
        }
    );
}

fn neighbor_advert(flags: NdiscNeighborFlags, dst: Ipv6Address, mac: EthernetAddress) -> Vec<u8> {
    let mut option_bytes = [0u8; 8];
    let options =
        NdiscOptions::emit_from(&[NdiscOption::TargetLinkLayerAddr(mac)], &mut option_bytes)
            .unwrap();
    let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags,
        target_addr: PEER_IP6,
        options,
    });
    ipv6_packet(PEER_IP6, dst, 255, &icmpv6(PEER_IP6, dst, &na))
}

#[test]
fn advertisements_create_no_entries_and_solicited_ones_to_groups_are_invalid() {
    let all_nodes = Ipv6Address::LINK_LOCAL_ALL_NODES;
    let (iface, dev) = run(vec![
        // RFC 4861 section 7.1.2: S set on an advertisement to a group.
        frame(
            group_mac(all_nodes),
            &neighbor_advert(NdiscNeighborFlags::SOLICITED, all_nodes, PEER_MAC),
        ),
        // Section 7.2.5: an unsolicited advertisement for an address the
        // cache does not hold is dropped silently.
        frame(
            group_mac(all_nodes),
            &neighbor_advert(NdiscNeighborFlags::OVERRIDE, all_nodes, PEER_MAC),
        ),
    ]);
    assert!(dev.tx.is_empty());
    assert_eq!(iface.stats().rx_drop_ndp_invalid, 1);
    assert_eq!(iface.neighbor(PEER_IP6, Instant::ZERO), None);
    assert_eq!(iface.stats().rx_drop_icmpv6_malformed, 0);
}
