//! The IP medium (`Medium::Ip`, as on a TUN device): bare IPv4 packets in
//! and out, no Ethernet header, no ARP, whatever the next hop; recorded by
//! the pcap writer as raw IP (LINKTYPE_RAW).

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, Loopback, Medium, PcapDirection, PcapWriter, RxToken, TxToken};
use pollnet::socket::SocketSet;
use pollnet::time::{Duration, Instant};
use pollnet::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

fn sum16(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// An ICMP echo request (RFC 792) from `src` to 192.0.2.1 as a bare IPv4
/// packet.
fn echo_request(src: [u8; 4]) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend_from_slice(b"over the ip medium");
    let sum = !sum16(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 7, 0, 0, 64, 1, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&[192, 0, 2, 1]);
    let total = (20 + icmp.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = !sum16(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

#[test]
fn echo_is_answered_with_a_bare_ip_packet_even_off_link_and_recorded_as_raw_ip() {
    let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]), 0x5eed)
        .with_ip(Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, 1), 24).unwrap());
    let mut iface = Interface::new(config).unwrap();
    let mut sockets = SocketSet::with_capacity(2);
    let (ours, theirs) = Loopback::pair(1500, Duration::ZERO);
    let mut peer = theirs.with_medium(Medium::Ip);
    let mut dev =
        PcapWriter::new(ours.with_medium(Medium::Ip), Vec::new(), PcapDirection::Tx).unwrap();
    // From an address on no prefix of ours, with no gateway: on the IP
    // medium the one peer gets the reply anyway.
    for src in [[192, 0, 2, 9], [203, 0, 113, 5]] {
        let request = echo_request(src);
        peer.transmit(Instant::ZERO)
            .unwrap()
            .consume(request.len(), |b| b.copy_from_slice(&request));
        iface.poll(Instant::ZERO, &mut dev, &mut sockets);
        let (rx, _) = peer.receive(Instant::ZERO).expect("a reply");
        let reply = rx.consume(|f| f.to_vec());
        assert_eq!(reply[0], 0x45, "an IPv4 header first, no Ethernet header");
        assert_eq!(sum16(&reply[..20]), 0xffff);
        assert_eq!(&reply[12..16], &[192, 0, 2, 1]);
        assert_eq!(&reply[16..20], &src);
        assert_eq!(reply[20], 0, "echo reply");
        assert_eq!(sum16(&reply[20..]), 0xffff);
        assert_eq!(&reply[28..], b"over the ip medium");
    }
    let stats = iface.stats();
    assert_eq!(stats.arp_requests_sent, 0);
    assert_eq!(stats.icmp_echo_replies, 2);
    assert_eq!(dev.frames_written(), 2);
    let (_, pcap) = dev.into_inner().unwrap();
    assert_eq!(u32::from_le_bytes(pcap[20..24].try_into().unwrap()), 101);
    // The first record's bytes start with the IPv4 header.
    assert_eq!(pcap[24 + 16], 0x45);
}
