//! The DHCP client and the DNS resolver as socket kinds of a real
//! interface, on the virtual clock: the exact frames they cause (DISCOVER
//! and REQUEST broadcast from 0.0.0.0, ARP probes and announcements, the
//! unicast renewal, the DECLINE after a conflict, the RELEASE), the lease
//! applied to the interface, and a name resolved through the lease's DNS
//! server.

use std::collections::VecDeque;

use pollnet::iface::{Config, Interface};
use pollnet::phy::{Device, DeviceCapabilities, RxToken, TxToken};
use pollnet::socket::SocketSet;
use pollnet::socket::dhcpv4::{Dhcpv4Event, Dhcpv4Socket, Dhcpv4State};
use pollnet::socket::dns::{DnsError, DnsQueryType, DnsSocket};
use pollnet::time::{Duration, Instant};
use pollnet::wire::dhcpv4::{DhcpMessageType, DhcpPacket, DhcpRepr, Ipv4AddressList};
use pollnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, ChecksumCapabilities, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpAddress,
    IpProtocol, Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x67]);
const OTHER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x99]);
const SERVER: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);
const OFFERED: Ipv4Address = Ipv4Address::new(198, 51, 100, 50);
const NAME_ADDR: Ipv4Address = Ipv4Address::new(192, 0, 2, 80);

#[derive(Default)]
struct ScriptDevice {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl Device for ScriptDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities::default()
    }
}

/// One frame the interface sent, decoded.
#[derive(Debug, PartialEq)]
enum Sent {
    Udp {
        dst_mac: EthernetAddress,
        src: Ipv4Address,
        dst: Ipv4Address,
        src_port: u16,
        dst_port: u16,
        payload: Vec<u8>,
    },
    Arp {
        dst_mac: EthernetAddress,
        operation: ArpOperation,
        sender_ip: Ipv4Address,
        target_mac: EthernetAddress,
        target_ip: Ipv4Address,
    },
}

fn decode(frame: &[u8]) -> Sent {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.src_addr(), MAC);
    let dst_mac = eth.dst_addr();
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_hardware_addr,
                target_protocol_addr,
            } = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap()
            else {
                panic!("not Ethernet/IPv4 ARP")
            };
            assert_eq!(source_hardware_addr, MAC);
            Sent::Arp {
                dst_mac,
                operation,
                sender_ip: source_protocol_addr,
                target_mac: target_hardware_addr,
                target_ip: target_protocol_addr,
            }
        }
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.next_header(), IpProtocol::Udp);
            let (src, dst) = (ip.src_addr(), ip.dst_addr());
            let udp = UdpPacket::new_checked(ip.payload()).unwrap();
            let repr = UdpRepr::parse(
                &udp,
                &IpAddress::Ipv4(src),
                &IpAddress::Ipv4(dst),
                &ChecksumCapabilities::default(),
            )
            .unwrap();
            Sent::Udp {
                dst_mac,
                src,
                dst,
                src_port: repr.src_port,
                dst_port: repr.dst_port,
                payload: repr.payload.to_vec(),
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn udp_frame(
    src: (EthernetAddress, Ipv4Address, u16),
    dst: (EthernetAddress, Ipv4Address, u16),
    payload: &[u8],
) -> Vec<u8> {
    let udp = UdpRepr {
        src_port: src.2,
        dst_port: dst.2,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: src.1,
        dst_addr: dst.1,
        next_header: IpProtocol::Udp,
        payload_len: udp.buffer_len(),
        hop_limit: 64,
        dont_frag: false,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut frame = vec![0u8; 14 + 20 + udp.buffer_len()];
    EthernetRepr {
        src_addr: src.0,
        dst_addr: dst.0,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    udp.emit(
        &mut UdpPacket::new_unchecked(packet.payload_mut()),
        &IpAddress::Ipv4(src.1),
        &IpAddress::Ipv4(dst.1),
        &ChecksumCapabilities::default(),
    );
    frame
}

fn arp_frame(
    operation: ArpOperation,
    sender: (EthernetAddress, Ipv4Address),
    target: (EthernetAddress, Ipv4Address),
) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: sender.0,
        source_protocol_addr: sender.1,
        target_hardware_addr: target.0,
        target_protocol_addr: target.1,
    };
    let mut frame = vec![0u8; 14 + arp.buffer_len()];
    EthernetRepr {
        src_addr: sender.0,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    arp.emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// A server reply to transaction `xid`, broadcast as dnsmasq sends it.
fn server_reply(message_type: DhcpMessageType, xid: u32) -> Vec<u8> {
    let repr = DhcpRepr {
        broadcast: true,
        your_ip: OFFERED,
        server_identifier: Some(SERVER),
        subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
        routers: Ipv4AddressList::from_slice(&[SERVER]),
        dns_servers: Ipv4AddressList::from_slice(&[SERVER]),
        interface_mtu: Some(1400),
        lease_duration: Some(120),
        renew_duration: Some(10),
        rebind_duration: Some(15),
        ..DhcpRepr::new(message_type, xid, MAC)
    };
    let mut payload = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut payload[..]))
        .unwrap();
    udp_frame(
        (SERVER_MAC, SERVER, 67),
        (EthernetAddress::BROADCAST, Ipv4Address::BROADCAST, 68),
        &payload,
    )
}

struct Net {
    iface: Interface<'static>,
    device: ScriptDevice,
    sockets: SocketSet<'static>,
}

impl Net {
    fn new() -> Net {
        Net {
            iface: Interface::new(Config::new(MAC, 0x1357)).unwrap(),
            device: ScriptDevice::default(),
            sockets: SocketSet::with_capacity(4),
        }
    }

    /// Polls at `now` and returns what went out.
    fn poll(&mut self, now: Instant) -> Vec<Sent> {
        self.iface.poll(now, &mut self.device, &mut self.sockets);
        self.device.tx.drain(..).map(|f| decode(&f)).collect()
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        self.device.rx.push_back(frame);
    }
}

fn dhcp_of(sent: &Sent) -> DhcpRepr<'_> {
    let Sent::Udp { payload, .. } = sent else {
        panic!("not a datagram: {sent:?}")
    };
    DhcpRepr::parse(&DhcpPacket::new_checked(&payload[..]).unwrap()).unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

/// DISCOVER, OFFER, REQUEST, ACK; returns the net, the client's handle
/// and the transaction id, the client in PROBING.
fn to_probing() -> (Net, pollnet::socket::SocketHandle, u32) {
    let mut net = Net::new();
    let mut client = Dhcpv4Socket::new(MAC, 0x1357);
    client.set_host_name("pollnet").unwrap();
    let handle = net.sockets.add(client).unwrap();

    let sent = net.poll(at(0));
    assert_eq!(sent.len(), 1);
    let Sent::Udp {
        dst_mac,
        src,
        dst,
        src_port,
        dst_port,
        ..
    } = &sent[0]
    else {
        panic!()
    };
    // From 0.0.0.0:68 to 255.255.255.255:67, Ethernet broadcast, no ARP.
    assert_eq!(
        (*dst_mac, *src, *dst, *src_port, *dst_port),
        (
            EthernetAddress::BROADCAST,
            Ipv4Address::UNSPECIFIED,
            Ipv4Address::BROADCAST,
            68,
            67
        )
    );
    let discover = dhcp_of(&sent[0]);
    assert_eq!(discover.message_type, DhcpMessageType::Discover);
    assert!(discover.broadcast);
    assert_eq!(discover.host_name, Some(&b"pollnet"[..]));
    let xid = discover.transaction_id;
    assert_eq!(
        net.sockets
            .get::<Dhcpv4Socket>(handle)
            .unwrap()
            .transaction_id(),
        xid
    );

    net.deliver(server_reply(DhcpMessageType::Offer, xid));
    let sent = net.poll(at(100));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let request = dhcp_of(&sent[0]);
    assert_eq!(request.message_type, DhcpMessageType::Request);
    assert_eq!(
        (
            request.transaction_id,
            request.requested_ip,
            request.server_identifier
        ),
        (xid, Some(OFFERED), Some(SERVER))
    );

    net.deliver(server_reply(DhcpMessageType::Ack, xid));
    assert_eq!(net.poll(at(200)), vec![]);
    assert_eq!(
        net.sockets.get::<Dhcpv4Socket>(handle).unwrap().state(),
        Dhcpv4State::Probing
    );
    (net, handle, xid)
}

fn probe() -> Sent {
    Sent::Arp {
        dst_mac: EthernetAddress::BROADCAST,
        operation: ArpOperation::Request,
        sender_ip: Ipv4Address::UNSPECIFIED,
        target_mac: EthernetAddress([0; 6]),
        target_ip: OFFERED,
    }
}

#[test]
fn lease_probe_apply_resolve_renew_release() {
    let (mut net, handle, _) = to_probing();
    // The probes go out when the interface says they are due.
    let mut probes = 0;
    let mut now = at(200);
    let mut announced = None;
    while announced.is_none() && now < at(10_000) {
        let due = net.iface.poll_at(&net.sockets).unwrap();
        assert!(due > now, "poll_at {due} not after {now}");
        now = due;
        for sent in net.poll(now) {
            if sent == probe() {
                probes += 1;
            } else {
                assert_eq!(
                    sent,
                    Sent::Arp {
                        dst_mac: EthernetAddress::BROADCAST,
                        operation: ArpOperation::Request,
                        sender_ip: OFFERED,
                        target_mac: EthernetAddress([0; 6]),
                        target_ip: OFFERED,
                    }
                );
                announced = Some(now);
            }
        }
    }
    assert_eq!(probes, 3);
    let announced = announced.expect("an announcement");
    let client = net.sockets.get_mut::<Dhcpv4Socket>(handle).unwrap();
    assert_eq!(client.state(), Dhcpv4State::Bound);
    let Some(event @ Dhcpv4Event::Configured(lease)) = client.poll_event() else {
        panic!("no lease")
    };
    assert_eq!(lease.address, Ipv4Cidr::new(OFFERED, 24).unwrap());
    // Apply it: address, default route, MTU.
    net.iface
        .apply_dhcpv4_event(&mut net.sockets, &event, now)
        .unwrap();
    assert_eq!(
        net.iface.ip_addrs().collect::<Vec<_>>(),
        vec![Ipv4Cidr::new(OFFERED, 24).unwrap()]
    );
    assert_eq!(net.iface.ipv4_gateway(), Some(SERVER));
    assert_eq!(net.iface.ip_mtu_cap(), Some(1400));

    // Resolve a name through the lease's DNS server.
    let servers: Vec<IpAddress> = lease
        .dns_servers
        .as_slice()
        .iter()
        .map(|a| IpAddress::Ipv4(*a))
        .collect();
    let dns = DnsSocket::new(&servers, vec![None; 2], 0x1357);
    let port = dns.local_port();
    assert!(port >= 49152);
    let dns_handle = net.sockets.add(dns).unwrap();
    let query = net
        .sockets
        .get_mut::<DnsSocket>(dns_handle)
        .unwrap()
        .start_query(now, "test.example", DnsQueryType::A)
        .unwrap();
    // The server's MAC is unknown: ARP first (the query waits).
    let sent = net.poll(now);
    assert_eq!(
        sent,
        vec![Sent::Arp {
            dst_mac: EthernetAddress::BROADCAST,
            operation: ArpOperation::Request,
            sender_ip: OFFERED,
            target_mac: EthernetAddress([0; 6]),
            target_ip: SERVER,
        }]
    );
    net.deliver(arp_frame(
        ArpOperation::Reply,
        (SERVER_MAC, SERVER),
        (MAC, OFFERED),
    ));
    let sent = net.poll(now + Duration::from_millis(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let Sent::Udp {
        dst_mac,
        src,
        dst,
        src_port,
        dst_port,
        payload,
    } = &sent[0]
    else {
        panic!()
    };
    assert_eq!(
        (*dst_mac, *src, *dst, *src_port, *dst_port),
        (SERVER_MAC, OFFERED, SERVER, port, 53)
    );
    // Answer it: the query's header and question, one A record.
    let mut answer = payload.clone();
    answer[2] |= 0x80;
    answer[3] = 0x80;
    answer[7] = 1;
    answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    answer.extend_from_slice(&NAME_ADDR.0);
    net.deliver(udp_frame(
        (SERVER_MAC, SERVER, 53),
        (MAC, OFFERED, port),
        &answer,
    ));
    net.poll(now + Duration::from_millis(2));
    let result = net
        .sockets
        .get_mut::<DnsSocket>(dns_handle)
        .unwrap()
        .get_query_result(query)
        .unwrap();
    assert_eq!(result.addresses(), &[IpAddress::Ipv4(NAME_ADDR)]);

    // T1 (10 s after the REQUEST at 100 ms): a unicast REQUEST to the
    // server's MAC, from the leased address. The second announcement
    // comes on the way.
    let renew_at = at(100) + Duration::from_secs(10);
    assert!(announced < renew_at);
    let mut renewal = None;
    while renewal.is_none() {
        let due = net.iface.poll_at(&net.sockets).unwrap();
        assert!(due <= renew_at, "{due}");
        for sent in net.poll(due) {
            if let Sent::Udp { .. } = sent {
                renewal = Some((due, sent));
            }
        }
    }
    let (when, sent) = renewal.unwrap();
    assert_eq!(when, renew_at);
    let Sent::Udp {
        dst_mac, src, dst, ..
    } = &sent
    else {
        panic!()
    };
    assert_eq!((*dst_mac, *src, *dst), (SERVER_MAC, OFFERED, SERVER));
    let renew = dhcp_of(&sent);
    assert_eq!(
        (renew.message_type, renew.client_ip, renew.requested_ip),
        (DhcpMessageType::Request, OFFERED, None)
    );
    assert!(!renew.broadcast);
    // The server ACKs (unicast to the leased address).
    let mut ack = server_reply(DhcpMessageType::Ack, renew.transaction_id);
    ack[0..6].copy_from_slice(&MAC.0);
    net.deliver(ack);
    net.poll(renew_at + Duration::from_millis(5));
    let client = net.sockets.get_mut::<Dhcpv4Socket>(handle).unwrap();
    assert_eq!(client.state(), Dhcpv4State::Bound);
    let Some(Dhcpv4Event::Configured(renewed)) = client.poll_event() else {
        panic!("no renewal event")
    };
    assert_eq!(renewed.renew_at, Some(renew_at + Duration::from_secs(10)));

    // Release: a RELEASE to the server, then the lease comes off.
    client.release();
    let release_at = renew_at + Duration::from_secs(1);
    let sent = net.poll(release_at);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let release = dhcp_of(&sent[0]);
    assert_eq!(release.message_type, DhcpMessageType::Release);
    assert_eq!(release.client_ip, OFFERED);
    let client = net.sockets.get_mut::<Dhcpv4Socket>(handle).unwrap();
    let Some(event @ Dhcpv4Event::Deconfigured(_)) = client.poll_event() else {
        panic!("no Deconfigured")
    };
    net.iface
        .apply_dhcpv4_event(&mut net.sockets, &event, release_at)
        .unwrap();
    assert_eq!(net.iface.ip_addrs().count(), 0);
    assert_eq!(net.iface.ipv4_gateway(), None);
    assert_eq!(net.iface.ip_mtu_cap(), None);
    assert_eq!(net.poll(release_at + Duration::from_secs(100)), vec![]);
}

#[test]
fn conflict_during_probe_sends_decline() {
    let (mut net, handle, _) = to_probing();
    let first = net.iface.poll_at(&net.sockets).unwrap();
    assert_eq!(net.poll(first), vec![probe()]);
    // Another host answers for the address.
    net.deliver(arp_frame(
        ArpOperation::Reply,
        (OTHER_MAC, OFFERED),
        (MAC, Ipv4Address::UNSPECIFIED),
    ));
    let sent = net.poll(first + Duration::from_millis(50));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let decline = dhcp_of(&sent[0]);
    assert_eq!(decline.message_type, DhcpMessageType::Decline);
    assert_eq!(
        (decline.requested_ip, decline.server_identifier),
        (Some(OFFERED), Some(SERVER))
    );
    let client = net.sockets.get_mut::<Dhcpv4Socket>(handle).unwrap();
    assert_eq!(client.state(), Dhcpv4State::Init);
    assert_eq!(client.poll_event(), None);
    // Ten seconds later, a new DISCOVER.
    let due = net.iface.poll_at(&net.sockets).unwrap();
    assert_eq!(
        due,
        first + Duration::from_millis(50) + Duration::from_secs(10)
    );
    let sent = net.poll(due);
    assert_eq!(dhcp_of(&sent[0]).message_type, DhcpMessageType::Discover);
}

#[test]
fn dns_without_answer_times_out_on_the_interface_clock() {
    let mut net = Net::new();
    net.iface
        .add_ip_addr(Ipv4Cidr::new(OFFERED, 24).unwrap())
        .unwrap();
    let server = IpAddress::Ipv4(SERVER);
    let handle = net
        .sockets
        .add(DnsSocket::new(&[server], vec![None; 1], 1))
        .unwrap();
    let query = net
        .sockets
        .get_mut::<DnsSocket>(handle)
        .unwrap()
        .start_query(at(0), "test.example", DnsQueryType::A)
        .unwrap();
    net.poll(at(0));
    net.deliver(arp_frame(
        ArpOperation::Reply,
        (SERVER_MAC, SERVER),
        (MAC, OFFERED),
    ));
    // The first copy left the resolver at 0 and waited for ARP, going out
    // at 1 ms; its timer runs from 0: then copies at 1 s and 3 s, and the
    // query fails at 7 s.
    let mut copies = Vec::new();
    let mut now = at(1);
    for _ in 0..10 {
        for sent in net.poll(now) {
            if let Sent::Udp { dst_port: 53, .. } = sent {
                copies.push(now);
            }
        }
        match net.iface.poll_at(&net.sockets) {
            Some(due) => now = due.max(now + Duration::from_millis(1)),
            None => break,
        }
    }
    assert_eq!(copies, vec![at(1), at(1000), at(3000)]);
    assert_eq!(
        net.sockets
            .get_mut::<DnsSocket>(handle)
            .unwrap()
            .get_query_result(query),
        Err(DnsError::Timeout)
    );
}

/// A port unreachable from a server for the query the resolver sent (the
/// ICMP error quotes its IP header and UDP header): the next server is asked
/// at once, not after the timeout.
#[test]
fn dns_port_unreachable_moves_to_the_next_server_at_once() {
    const SECOND: Ipv4Address = Ipv4Address::new(198, 51, 100, 2);
    let mut net = Net::new();
    net.iface
        .add_ip_addr(Ipv4Cidr::new(OFFERED, 24).unwrap())
        .unwrap();
    let servers = [IpAddress::Ipv4(SERVER), IpAddress::Ipv4(SECOND)];
    let handle = net
        .sockets
        .add(DnsSocket::new(&servers, vec![None; 1], 1))
        .unwrap();
    let query = net
        .sockets
        .get_mut::<DnsSocket>(handle)
        .unwrap()
        .start_query(at(0), "test.example", DnsQueryType::A)
        .unwrap();
    net.poll(at(0));
    net.deliver(arp_frame(
        ArpOperation::Reply,
        (SERVER_MAC, SERVER),
        (MAC, OFFERED),
    ));
    net.iface.poll(at(1), &mut net.device, &mut net.sockets);
    let frame = net.device.tx.pop().expect("the query");
    assert!(matches!(decode(&frame), Sent::Udp { dst, .. } if dst == SERVER));
    // The server's ICMP error quotes the query's IP and UDP headers.
    let quoted = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let header = Ipv4Repr::parse(&quoted, &ChecksumCapabilities::default()).unwrap();
    let icmp = Icmpv4Repr::DstUnreachable {
        reason: Icmpv4DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        header,
        data: &quoted.payload()[..8],
    };
    let ip = Ipv4Repr {
        src_addr: SERVER,
        dst_addr: OFFERED,
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
        dont_frag: false,
        ecn: pollnet::wire::IpEcn::NotEct,
    };
    let mut error = vec![0u8; 14 + 20 + icmp.buffer_len()];
    EthernetRepr {
        src_addr: SERVER_MAC,
        dst_addr: MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut error[..]));
    let mut packet = Ipv4Packet::new_unchecked(&mut error[14..]);
    ip.emit(&mut packet, &ChecksumCapabilities::default());
    icmp.emit(
        &mut Icmpv4Packet::new_unchecked(packet.payload_mut()),
        &ChecksumCapabilities::default(),
    );
    net.deliver(error);
    // In the poll that takes the error in, or the next one at the same
    // time: the second server's address is asked for (the copy waits for
    // it), long before the 1 s timeout.
    let mut sent = net.poll(at(5));
    sent.extend(net.poll(at(5)));
    assert_eq!(
        sent,
        vec![Sent::Arp {
            dst_mac: EthernetAddress::BROADCAST,
            operation: ArpOperation::Request,
            sender_ip: OFFERED,
            target_mac: EthernetAddress([0; 6]),
            target_ip: SECOND,
        }]
    );
    assert_eq!(
        net.sockets
            .get_mut::<DnsSocket>(handle)
            .unwrap()
            .get_query_result(query),
        Err(DnsError::Pending)
    );
}
