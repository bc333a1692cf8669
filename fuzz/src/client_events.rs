//! The DHCP client and the DNS resolver driven by arbitrary event
//! sequences: clock advances, dispatches, server replies built around the
//! transaction in progress (so the deep states are reached), raw datagrams,
//! ARP observations and user calls. Checked after every event:
//! - nothing panics, and `dispatch` with a full-size buffer never fails;
//! - everything sent parses (DHCP requests from port 68 to 67, DNS queries
//!   to a configured server's port 53);
//! - a lease exists exactly in BOUND, RENEWING and REBINDING, a probe
//!   target exactly in PROBING;
//! - events alternate: a `Deconfigured` only for the lease last configured;
//! - liveness: once `dispatch` has nothing to send at `now`, `poll_at` is
//!   later than `now` (or none), so a caller never spins.

use pollnet::socket::dhcpv4::{
    Dhcpv4Event, Dhcpv4Socket, Dhcpv4State, Dhcpv4Transmit, MAX_EMIT_LEN,
};
use pollnet::socket::dns::{DnsError, DnsQueryHandle, DnsQueryType, DnsSocket, MAX_QUERY_LEN};
use pollnet::socket::{IcmpErrorKind, IcmpErrorReport};
use pollnet::time::{Duration, Instant};
use pollnet::wire::dhcpv4::{DhcpMessageType, DhcpPacket, DhcpRepr, Ipv4AddressList};
use pollnet::wire::dns::DnsPacket;
use pollnet::wire::{EthernetAddress, Icmpv4DstUnreachable, IpAddress, IpEndpoint, Ipv4Address};

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);
const SERVER: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Runs one DHCP client through the events `data` encodes; returns the
/// states it passed through, as bits of `1 << state as u8`.
pub fn run_dhcpv4(data: &[u8]) -> u32 {
    let mut seen = 0u32;
    let mut input = Bytes(data);
    let mut client = Dhcpv4Socket::new(MAC, 7);
    let mut now = Instant::ZERO;
    let mut configured: Option<Ipv4Address> = None;
    let mut buf = [0u8; MAX_EMIT_LEN];
    while let Some(op) = input.byte() {
        match op % 8 {
            0 => {
                let step = u64::from(input.byte().unwrap_or(1));
                now += Duration::from_millis(step * step * 20);
            }
            1 => drain_dhcpv4(&mut client, now, &mut buf),
            2 | 3 => {
                let kind = match input.byte().unwrap_or(0) % 3 {
                    0 => DhcpMessageType::Offer,
                    1 => DhcpMessageType::Ack,
                    _ => DhcpMessageType::Nak,
                };
                let times = input.take(4);
                let lease = u32::from(times.first().copied().unwrap_or(120)) * 4;
                let mut repr = DhcpRepr {
                    broadcast: true,
                    server_identifier: Some(SERVER),
                    your_ip: Ipv4Address::new(198, 51, 100, times.get(1).copied().unwrap_or(50)),
                    lease_duration: Some(lease),
                    renew_duration: times.get(2).map(|&t| u32::from(t)),
                    rebind_duration: times.get(3).map(|&t| u32::from(t) * 2),
                    routers: Ipv4AddressList::from_slice(&[SERVER]),
                    dns_servers: Ipv4AddressList::from_slice(&[SERVER]),
                    ..DhcpRepr::new(kind, client.transaction_id(), MAC)
                };
                if op % 8 == 3 {
                    repr.subnet_mask = Some(Ipv4Address::new(255, 255, 255, 0));
                }
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
                    .unwrap();
                client.process(now, SERVER, Ipv4Address::BROADCAST, &out);
            }
            4 => {
                let len = usize::from(input.byte().unwrap_or(0)) * 3;
                let raw = input.take(len).to_vec();
                client.process(now, SERVER, Ipv4Address::BROADCAST, &raw);
            }
            5 => {
                let b = input.take(3);
                let target = client.probing().unwrap_or(Ipv4Address::UNSPECIFIED);
                let sender = match b.first().copied().unwrap_or(0) % 3 {
                    0 => target,
                    1 => Ipv4Address::UNSPECIFIED,
                    _ => SERVER,
                };
                let mac = if b.get(1).is_some_and(|x| x % 2 == 0) {
                    MAC
                } else {
                    EthernetAddress([2, 0, 0, 0, 9, 9])
                };
                client.process_arp(now, mac, sender, target);
            }
            6 => match input.byte().unwrap_or(0) % 4 {
                0 => client.release(),
                1 => client.reset(),
                2 => client.set_arp_probe(false),
                _ => client.set_arp_probe(true),
            },
            _ => {}
        }
        let state = client.state();
        seen |= 1 << state as u8;
        let leased = matches!(
            state,
            Dhcpv4State::Bound | Dhcpv4State::Renewing | Dhcpv4State::Rebinding
        );
        assert_eq!(client.lease().is_some(), leased, "{state}");
        assert_eq!(client.probing().is_some(), state == Dhcpv4State::Probing);
        while let Some(event) = client.poll_event() {
            match event {
                Dhcpv4Event::Configured(lease) => {
                    let addr = lease.address.address();
                    assert!(configured.is_none_or(|old| old == addr), "configured twice");
                    configured = Some(addr);
                }
                Dhcpv4Event::Deconfigured(lease) => {
                    assert_eq!(configured, Some(lease.address.address()));
                    configured = None;
                }
            }
        }
    }
    seen
}

fn drain_dhcpv4(client: &mut Dhcpv4Socket, now: Instant, buf: &mut [u8]) {
    for _ in 0..16 {
        match client
            .dispatch(now, buf)
            .expect("a full-size buffer suffices")
        {
            None => {
                assert!(client.poll_at().is_none_or(|at| at > now), "spins at {now}");
                return;
            }
            Some(Dhcpv4Transmit::Udp {
                src_port,
                dst_port,
                len,
                ..
            }) => {
                assert_eq!((src_port, dst_port), (68, 67));
                let repr = DhcpRepr::parse(&DhcpPacket::new_checked(&buf[..len]).unwrap())
                    .expect("what the client sends parses");
                assert_eq!(repr.client_hardware_address, MAC);
            }
            Some(_) => {}
        }
    }
    panic!("more than 16 transmissions due at once");
}

/// Runs one resolver through the events `data` encodes; returns the
/// outcomes collected: bit 0 an answer, bit 1 + n the error with
/// discriminant n in [`DnsError`]'s order.
pub fn run_dns(data: &[u8]) -> u32 {
    let mut seen = 0u32;
    const SERVERS: [IpAddress; 2] = [
        IpAddress::Ipv4(Ipv4Address::new(198, 51, 100, 53)),
        IpAddress::Ipv4(Ipv4Address::new(198, 51, 100, 54)),
    ];
    let mut input = Bytes(data);
    let mut resolver = DnsSocket::new(&SERVERS, vec![None; 3], 9);
    let mut handles: Vec<DnsQueryHandle> = Vec::new();
    let mut now = Instant::ZERO;
    let mut last_query: Vec<u8> = Vec::new();
    let mut last_server = SERVERS[0];
    let mut buf = [0u8; MAX_QUERY_LEN];
    while let Some(op) = input.byte() {
        match op % 7 {
            0 => {
                let step = u64::from(input.byte().unwrap_or(1));
                now += Duration::from_millis(step * step * 2);
            }
            1 => {
                let name = ["test.example", "a.b", "x", "Test.Example."][usize::from(op / 7) % 4];
                if let Ok(handle) = resolver.start_query(now, name, DnsQueryType::A) {
                    handles.push(handle);
                }
            }
            2 => {
                // Sometimes jump from deadline to deadline, so timeouts
                // are reached.
                let jumps = if (op / 7) % 2 == 1 {
                    1 + op / 14 % 8
                } else {
                    1
                };
                for _ in 0..jumps {
                    if jumps > 1 {
                        now = resolver.poll_at().map_or(now, |at| at.max(now));
                    }
                    for _ in 0..8 {
                        let Some(tx) = resolver.dispatch(now, &mut buf) else {
                            assert!(resolver.poll_at().is_none_or(|at| at > now));
                            break;
                        };
                        assert!(SERVERS.contains(&tx.dst.addr) && tx.dst.port == 53);
                        let packet = DnsPacket::new_checked(&buf[..tx.len]).unwrap();
                        assert!(!packet.is_response());
                        last_query = buf[..tx.len].to_vec();
                        last_server = tx.dst.addr;
                    }
                }
            }
            3 | 4 => {
                // A response to the last query sent: its header and
                // question, the fuzz bytes as the answer section.
                if last_query.len() < 12 {
                    continue;
                }
                let mut reply = last_query.clone();
                reply[2] |= 0x80;
                // Mostly NOERROR, sometimes any flags and rcode.
                reply[3] = match input.byte().unwrap_or(0) {
                    flags if flags % 2 == 1 => flags,
                    _ => 0x80,
                };
                reply[7] = input.byte().unwrap_or(1) % 3;
                if op % 2 == 0 {
                    // One well-formed A record for the question's name.
                    reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                    reply.extend_from_slice(&[192, 0, 2, input.byte().unwrap_or(80)]);
                }
                let len = usize::from(input.byte().unwrap_or(0) % 64);
                reply.extend_from_slice(input.take(len));
                let from = SERVERS[usize::from(op % 7 == 4)];
                resolver.process(now, IpEndpoint::new(from, 53), &reply);
            }
            5 => {
                let len = usize::from(input.byte().unwrap_or(0));
                if len % 4 == 3 {
                    // An ICMP error, mostly about the last copy sent.
                    let server = match len / 4 % 4 {
                        0 => SERVERS[0],
                        1 => SERVERS[1],
                        _ => last_server,
                    };
                    let port = if len % 32 == 31 { 5353 } else { 53 };
                    resolver.on_icmp_error(IcmpErrorReport {
                        reporter: server,
                        remote: IpEndpoint::new(server, port),
                        kind: IcmpErrorKind::DstUnreachable(Icmpv4DstUnreachable::PortUnreachable),
                        at: now,
                    });
                } else {
                    let raw = input.take(len).to_vec();
                    resolver.process(now, IpEndpoint::new(SERVERS[0], 53), &raw);
                }
            }
            _ => {
                if let Some(handle) = handles.pop() {
                    if op % 2 == 0 {
                        let _ = resolver.cancel_query(handle);
                    } else {
                        seen |= match resolver.get_query_result(handle) {
                            Ok(answer) => {
                                assert!(!answer.addresses().is_empty());
                                1
                            }
                            Err(err) => 2 << error_index(err),
                        };
                    }
                }
            }
        }
    }
    seen
}

fn error_index(err: DnsError) -> u32 {
    match err {
        DnsError::Pending => 0,
        DnsError::InvalidHandle => 1,
        DnsError::NameNotFound => 2,
        DnsError::NoRecords => 3,
        DnsError::ServerFailure(_) => 4,
        DnsError::Timeout => 5,
        DnsError::Truncated => 6,
        DnsError::Malformed(_) => 7,
        DnsError::Unreachable => 8,
    }
}
