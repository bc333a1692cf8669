//! The DHCP client on a virtual clock: every state transition and timer,
//! the exact bytes of what it sends, and what it ignores.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);
const OTHER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 9, 9]);
const SEED: u128 = 0x5eed_0000_0000_0000_0000_0000_0000_0013;
const SERVER: Ipv4Address = Ipv4Address::new(198, 51, 100, 1);
const OFFERED: Ipv4Address = Ipv4Address::new(198, 51, 100, 50);
const DNS1: Ipv4Address = Ipv4Address::new(198, 51, 100, 53);
const UNSPECIFIED: Ipv4Address = Ipv4Address::UNSPECIFIED;
const BROADCAST: Ipv4Address = Ipv4Address::BROADCAST;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(s: u64) -> Instant {
    Instant::ZERO + secs(s)
}

fn client() -> Dhcpv4Socket {
    let mut c = Dhcpv4Socket::new(MAC, SEED);
    c.set_host_name("pollnet").unwrap();
    c
}

/// What one dispatch sent: the transmit and the payload bytes.
fn send(c: &mut Dhcpv4Socket, now: Instant) -> Option<(Dhcpv4Transmit, Vec<u8>)> {
    let mut buf = vec![0xa5u8; MAX_EMIT_LEN];
    let tx = c.dispatch(now, &mut buf).unwrap()?;
    let len = match tx {
        Dhcpv4Transmit::Udp { len, .. } => len,
        _ => 0,
    };
    buf.truncate(len);
    Some((tx, buf))
}

/// The DHCP message one dispatch sent, parsed back; panics if none.
fn send_dhcp(c: &mut Dhcpv4Socket, now: Instant) -> (Ipv4Address, Ipv4Address, Vec<u8>) {
    match send(c, now) {
        Some((
            Dhcpv4Transmit::Udp {
                src,
                dst,
                src_port: 68,
                dst_port: 67,
                ..
            },
            bytes,
        )) => (src, dst, bytes),
        other => panic!("expected a DHCP message at {now}, got {other:?}"),
    }
}

fn parsed(bytes: &[u8]) -> DhcpRepr<'_> {
    DhcpRepr::parse(&DhcpPacket::new_checked(bytes).unwrap()).unwrap()
}

/// A server reply to the client's transaction `xid`.
fn reply(message_type: DhcpMessageType, xid: u32, edit: impl FnOnce(&mut DhcpRepr)) -> Vec<u8> {
    let mut repr = DhcpRepr {
        broadcast: true,
        server_identifier: Some(SERVER),
        ..DhcpRepr::new(message_type, xid, MAC)
    };
    if message_type != DhcpMessageType::Nak {
        repr.your_ip = OFFERED;
        repr.subnet_mask = Some(Ipv4Address::new(255, 255, 255, 0));
        repr.routers = Ipv4AddressList::from_slice(&[SERVER]);
        repr.dns_servers = Ipv4AddressList::from_slice(&[DNS1, SERVER]);
        repr.interface_mtu = Some(1400);
        repr.lease_duration = Some(120);
        repr.renew_duration = Some(10);
        repr.rebind_duration = Some(15);
    }
    edit(&mut repr);
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
        .unwrap();
    out
}

fn deliver(c: &mut Dhcpv4Socket, now: Instant, bytes: &[u8]) {
    c.process(now, SERVER, BROADCAST, bytes);
}

/// The fixed part of a client message as RFC 2131 figure 1 lays it out,
/// written field by field (not through `DhcpRepr`), then `options`, the end
/// option and padding to 300 bytes.
fn expected_message(
    xid: u32,
    secs: u16,
    broadcast: bool,
    ciaddr: Ipv4Address,
    options: &[&[u8]],
) -> Vec<u8> {
    let mut out = vec![1, 1, 6, 0];
    out.extend_from_slice(&xid.to_be_bytes());
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&[if broadcast { 0x80 } else { 0 }, 0]);
    out.extend_from_slice(&ciaddr.0);
    out.extend_from_slice(&[0; 12]); // yiaddr, siaddr, giaddr
    out.extend_from_slice(&MAC.0);
    out.extend_from_slice(&[0; 10 + 64 + 128]);
    out.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    for option in options {
        out.extend_from_slice(option);
    }
    out.push(255);
    out.resize(out.len().max(300), 0);
    out
}

const CLIENT_ID_OPTION: &[u8] = &[61, 7, 1, 2, 0, 0, 0, 1, 2];
const PARAMS_OPTION: &[u8] = &[55, 7, 1, 3, 6, 26, 51, 58, 59];
const MAX_SIZE_OPTION: &[u8] = &[57, 2, 0x02, 0x40];
const HOST_NAME_OPTION: &[u8] = &[12, 7, b'p', b'o', b'l', b'l', b'n', b'e', b't'];

fn discover_bytes(xid: u32, secs: u16) -> Vec<u8> {
    expected_message(
        xid,
        secs,
        true,
        UNSPECIFIED,
        &[
            &[53, 1, 1],
            CLIENT_ID_OPTION,
            PARAMS_OPTION,
            MAX_SIZE_OPTION,
            HOST_NAME_OPTION,
        ],
    )
}

fn selecting_request_bytes(xid: u32, secs: u16) -> Vec<u8> {
    expected_message(
        xid,
        secs,
        true,
        UNSPECIFIED,
        &[
            &[53, 1, 3],
            CLIENT_ID_OPTION,
            &[50, 4, 198, 51, 100, 50],
            &[54, 4, 198, 51, 100, 1],
            PARAMS_OPTION,
            MAX_SIZE_OPTION,
            HOST_NAME_OPTION,
        ],
    )
}

/// ciaddr set, no requested address or server identifier (RFC 2131
/// section 4.3.2, table 5).
fn renewing_request_bytes(xid: u32, secs: u16, broadcast: bool) -> Vec<u8> {
    expected_message(
        xid,
        secs,
        broadcast,
        OFFERED,
        &[
            &[53, 1, 3],
            CLIENT_ID_OPTION,
            PARAMS_OPTION,
            MAX_SIZE_OPTION,
            HOST_NAME_OPTION,
        ],
    )
}

/// The lease of `reply(Ack)` as granted for a REQUEST sent at `sent`.
fn lease_at(sent: Instant) -> Dhcpv4Lease {
    Dhcpv4Lease {
        address: Ipv4Cidr::new(OFFERED, 24).unwrap(),
        router: Some(SERVER),
        dns_servers: Ipv4AddressList::from_slice(&[DNS1, SERVER]),
        mtu: Some(1400),
        server: SERVER,
        lease_duration: Some(secs(120)),
        renew_at: Some(sent + secs(10)),
        rebind_at: Some(sent + secs(15)),
        expires_at: Some(sent + secs(120)),
    }
}

/// Drives a client to BOUND without the probe: DISCOVER at 0, OFFER and
/// REQUEST at 1 s, ACK at 2 s. Returns the client.
fn bound_client() -> Dhcpv4Socket {
    let mut c = client();
    c.set_arp_probe(false);
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(&mut c, at(1), &reply(DhcpMessageType::Offer, xid, |_| {}));
    send_dhcp(&mut c, at(1));
    deliver(&mut c, at(2), &reply(DhcpMessageType::Ack, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Bound);
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Configured(lease_at(at(1))))
    );
    c
}

#[test]
fn discover_bytes_and_determinism() {
    let mut c = client();
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    assert_eq!(c.poll_at(), Some(Instant::ZERO));
    let start = at(100);
    let (tx, bytes) = send(&mut c, start).unwrap();
    assert_eq!(
        tx,
        Dhcpv4Transmit::Udp {
            src: UNSPECIFIED,
            dst: BROADCAST,
            src_port: 68,
            dst_port: 67,
            len: 300
        }
    );
    let xid = c.transaction_id();
    assert_eq!(bytes, discover_bytes(xid, 0));
    // Nothing more is due until the retransmission.
    assert_eq!(send(&mut c, start), None);

    // The same seed gives the same xid; another seed another one.
    let mut twin = client();
    send(&mut twin, start).unwrap();
    assert_eq!(twin.transaction_id(), xid);
    assert_eq!(twin.poll_at(), c.poll_at());
    let mut other = Dhcpv4Socket::new(MAC, SEED + 1);
    send(&mut other, start).unwrap();
    assert_ne!(other.transaction_id(), xid);
}

#[test]
fn discover_retransmission_backoff() {
    let mut c = client();
    let mut now = at(0);
    send_dhcp(&mut c, now);
    let xid = c.transaction_id();
    let mut twin = client();
    send_dhcp(&mut twin, now);
    // 4, 8, 16, 32, 64, then 64 s: each within 1 s either way.
    for (n, base) in [4u64, 8, 16, 32, 64, 64, 64].into_iter().enumerate() {
        let due = c.poll_at().unwrap();
        let interval = due - now;
        assert!(
            interval >= secs(base - 1) && interval <= secs(base + 1),
            "retransmission {n}: {interval} after {base} s"
        );
        assert_eq!(twin.poll_at(), Some(due), "the seed fixes the jitter");
        // Not a microsecond early.
        assert_eq!(send(&mut c, due - Duration::from_micros(1)), None);
        let (src, dst, bytes) = send_dhcp(&mut c, due);
        assert_eq!((src, dst), (UNSPECIFIED, BROADCAST));
        // Same transaction; secs counts from the first DISCOVER.
        assert_eq!(bytes, discover_bytes(xid, (due - at(0)).secs() as u16));
        send_dhcp(&mut twin, due);
        now = due;
    }
    assert_eq!(c.stats().retransmissions, 7);
    assert_eq!(c.state(), Dhcpv4State::Selecting);
}

#[test]
fn offer_request_ack_probe_bound() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(&mut c, at(2), &reply(DhcpMessageType::Offer, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Requesting);
    assert_eq!(c.poll_at(), Some(at(2)));
    let (src, dst, bytes) = send_dhcp(&mut c, at(2));
    assert_eq!((src, dst), (UNSPECIFIED, BROADCAST));
    // The REQUEST keeps the offer's xid; secs counts from the DISCOVER.
    assert_eq!(bytes, selecting_request_bytes(xid, 2));
    // Retransmitted after 4 s +-1 with the same bytes but secs.
    let due = c.poll_at().unwrap();
    assert!(due >= at(5) && due <= at(7), "{due}");
    let (_, _, again) = send_dhcp(&mut c, due);
    assert_eq!(
        again,
        selecting_request_bytes(xid, (due - at(0)).secs() as u16)
    );

    // The ACK: lease times count from the last REQUEST sent.
    let acked = due + secs(1);
    deliver(&mut c, acked, &reply(DhcpMessageType::Ack, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Probing);
    assert_eq!(c.probing(), Some(OFFERED));
    // Nothing is configured while probing.
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.lease(), None);

    // PROBE_NUM probes: the first within PROBE_WAIT, then 1 to 2 s apart.
    let mut last = acked;
    for n in 0..PROBE_NUM {
        let due = c.poll_at().unwrap();
        let gap = due - last;
        let (low, high) = if n == 0 {
            (Duration::ZERO, PROBE_WAIT)
        } else {
            (PROBE_MIN, PROBE_MAX)
        };
        assert!(gap >= low && gap <= high, "probe {n} after {gap}");
        assert_eq!(send(&mut c, due - Duration::from_micros(1)), None);
        assert_eq!(
            send(&mut c, due),
            Some((Dhcpv4Transmit::ArpProbe { target: OFFERED }, vec![]))
        );
        // Unrelated ARP traffic is no conflict: another host's address,
        // our own probe echoed back.
        c.process_arp(due, OTHER_MAC, SERVER, OFFERED);
        c.process_arp(due, MAC, UNSPECIFIED, OFFERED);
        c.process_arp(due, OTHER_MAC, UNSPECIFIED, SERVER);
        last = due;
    }
    // ANNOUNCE_WAIT after the last probe, the address is ours.
    assert_eq!(c.poll_at(), Some(last + ANNOUNCE_WAIT));
    assert_eq!(
        send(&mut c, last + ANNOUNCE_WAIT - Duration::from_micros(1)),
        None
    );
    assert_eq!(c.state(), Dhcpv4State::Probing);
    let claimed = last + ANNOUNCE_WAIT;
    assert_eq!(
        send(&mut c, claimed),
        Some((Dhcpv4Transmit::ArpAnnounce { address: OFFERED }, vec![]))
    );
    assert_eq!(c.state(), Dhcpv4State::Bound);
    assert_eq!(c.probing(), None);
    assert_eq!(c.poll_event(), Some(Dhcpv4Event::Configured(lease_at(due))));
    assert_eq!(c.poll_event(), None);
    // The second announcement ANNOUNCE_INTERVAL later, then T1.
    assert_eq!(c.poll_at(), Some(claimed + ANNOUNCE_INTERVAL));
    assert_eq!(
        send(&mut c, claimed + ANNOUNCE_INTERVAL),
        Some((Dhcpv4Transmit::ArpAnnounce { address: OFFERED }, vec![]))
    );
    assert_eq!(c.poll_at(), Some(due + secs(10)));
}

#[test]
fn conflict_while_probing_declines_and_restarts_after_ten_seconds() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(&mut c, at(1), &reply(DhcpMessageType::Offer, xid, |_| {}));
    send_dhcp(&mut c, at(1));
    deliver(&mut c, at(2), &reply(DhcpMessageType::Ack, xid, |_| {}));
    let first_probe = c.poll_at().unwrap();
    send(&mut c, first_probe).unwrap();
    // Another host answers for the address.
    let seen = first_probe + Duration::from_millis(10);
    c.process_arp(seen, OTHER_MAC, OFFERED, UNSPECIFIED);
    assert_eq!(c.state(), Dhcpv4State::Init);
    assert_eq!(c.stats().declines, 1);
    assert_eq!(c.poll_at(), Some(Instant::ZERO), "the DECLINE is due");
    let (src, dst, bytes) = send_dhcp(&mut c, seen);
    assert_eq!((src, dst), (UNSPECIFIED, BROADCAST));
    let decline_xid = parsed(&bytes).transaction_id;
    // RFC 2131 table 5: requested address and server identifier, client
    // identifier, no parameter list, broadcast flag off.
    assert_eq!(
        bytes,
        expected_message(
            decline_xid,
            0,
            false,
            UNSPECIFIED,
            &[
                &[53, 1, 4],
                CLIENT_ID_OPTION,
                &[50, 4, 198, 51, 100, 50],
                &[54, 4, 198, 51, 100, 1]
            ]
        )
    );
    assert_eq!(c.poll_event(), None, "never configured");
    // Ten seconds later it starts over with a new transaction.
    assert_eq!(c.poll_at(), Some(seen + DECLINE_BACKOFF));
    assert_eq!(
        send(&mut c, seen + DECLINE_BACKOFF - Duration::from_micros(1)),
        None
    );
    let (_, _, bytes) = send_dhcp(&mut c, seen + DECLINE_BACKOFF);
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    let new_xid = c.transaction_id();
    assert_ne!(new_xid, xid);
    assert_eq!(bytes, discover_bytes(new_xid, 0));

    // Another host's probe for the same address is a conflict too.
    deliver(
        &mut c,
        at(30),
        &reply(DhcpMessageType::Offer, new_xid, |_| {}),
    );
    send_dhcp(&mut c, at(30));
    deliver(
        &mut c,
        at(30),
        &reply(DhcpMessageType::Ack, new_xid, |_| {}),
    );
    assert_eq!(c.state(), Dhcpv4State::Probing);
    c.process_arp(at(30), OTHER_MAC, UNSPECIFIED, OFFERED);
    assert_eq!(c.state(), Dhcpv4State::Init);
    assert_eq!(c.stats().declines, 2);
}

#[test]
fn renewing_at_t1_unicast_then_bound() {
    let mut c = bound_client();
    // Bound at 2 s; the lease counts from the REQUEST at 1 s: T1 at 11 s.
    assert_eq!(c.poll_at(), Some(at(11)));
    assert_eq!(send(&mut c, at(11) - Duration::from_micros(1)), None);
    assert_eq!(c.state(), Dhcpv4State::Bound);
    let (src, dst, bytes) = send_dhcp(&mut c, at(11));
    assert_eq!(c.state(), Dhcpv4State::Renewing);
    // Unicast from the leased address to the server.
    assert_eq!((src, dst), (OFFERED, SERVER));
    let xid = c.transaction_id();
    assert_eq!(bytes, renewing_request_bytes(xid, 0, false));
    // The next retransmission would be 60 s away; T2 at 16 s comes first.
    assert_eq!(c.poll_at(), Some(at(16)));
    // The server ACKs at 12 s: bound again, times from 11 s.
    deliver(&mut c, at(12), &reply(DhcpMessageType::Ack, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Bound);
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Configured(lease_at(at(11))))
    );
    assert_eq!(c.poll_at(), Some(at(21)));
    // No announcement after a renewal: the address was already in use.
    assert_eq!(send(&mut c, at(12)), None);
}

#[test]
fn renewing_retransmits_at_half_the_time_to_t2_then_rebinds() {
    let mut c = client();
    c.set_arp_probe(false);
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    // A long lease: 3600 s, T1 1800 s, T2 3150 s (the defaults).
    let long = |r: &mut DhcpRepr| {
        r.lease_duration = Some(3600);
        r.renew_duration = None;
        r.rebind_duration = None;
    };
    deliver(&mut c, at(0), &reply(DhcpMessageType::Offer, xid, long));
    send_dhcp(&mut c, at(0));
    deliver(&mut c, at(0), &reply(DhcpMessageType::Ack, xid, long));
    let lease = c.lease().copied().unwrap();
    assert_eq!(
        (lease.renew_at, lease.rebind_at, lease.expires_at),
        (Some(at(1800)), Some(at(3150)), Some(at(3600)))
    );
    assert_eq!(c.poll_at(), Some(at(1800)));
    send_dhcp(&mut c, at(1800));
    // Half of the 1350 s to T2.
    assert_eq!(c.poll_at(), Some(at(1800 + 675)));
    let (_, dst, _) = send_dhcp(&mut c, at(2475));
    assert_eq!(dst, SERVER);
    // Half of 675 s, then half of 337.5 s...
    assert_eq!(c.poll_at(), Some(at(2475) + Duration::from_millis(337_500)));
    send_dhcp(&mut c, at(2475) + Duration::from_millis(337_500));
    // The copies at 2475 s and 2812.5 s were retransmissions.
    assert_eq!(c.stats().retransmissions, 2);
    // ... down to 60 s: at 3090 s, 60 s left: the next would be 3150 s,
    // which is T2.
    let mut now = at(2475) + Duration::from_millis(337_500);
    while c.poll_at().unwrap() < at(3150) {
        let next = c.poll_at().unwrap();
        assert!(next - now >= MIN_RENEW_RETRANSMIT);
        now = next;
        send_dhcp(&mut c, now);
    }
    assert_eq!(c.poll_at(), Some(at(3150)));
    // T2: a broadcast REQUEST in a new transaction, from the address.
    let (src, dst, bytes) = send_dhcp(&mut c, at(3150));
    assert_eq!(c.state(), Dhcpv4State::Rebinding);
    assert_eq!((src, dst), (OFFERED, BROADCAST));
    let rebind_xid = c.transaction_id();
    assert_ne!(rebind_xid, xid);
    assert_eq!(bytes, renewing_request_bytes(rebind_xid, 0, false));
    // Half of the 450 s to expiry.
    assert_eq!(c.poll_at(), Some(at(3150 + 225)));
    // An ACK in REBINDING extends the lease.
    deliver(
        &mut c,
        at(3160),
        &reply(DhcpMessageType::Ack, rebind_xid, long),
    );
    assert_eq!(c.state(), Dhcpv4State::Bound);
    assert_eq!(c.lease().unwrap().expires_at, Some(at(3150 + 3600)));
}

#[test]
fn rebinding_then_expiry_deconfigures_and_rediscovers() {
    let mut c = bound_client();
    send_dhcp(&mut c, at(11));
    assert_eq!(c.state(), Dhcpv4State::Renewing);
    let (_, dst, _) = send_dhcp(&mut c, at(16));
    assert_eq!(dst, BROADCAST);
    assert_eq!(c.state(), Dhcpv4State::Rebinding);
    // 105 s to expiry at 121 s: half is 52.5 s, under the 60 s minimum:
    // the retransmission 60 s later, at 76 s.
    assert_eq!(c.poll_at(), Some(at(76)));
    let (_, dst, _) = send_dhcp(&mut c, at(76));
    assert_eq!(dst, BROADCAST);
    // 45 s left: 60 s from now is past the expiry, which comes first.
    assert_eq!(c.poll_at(), Some(at(121)));
    assert_eq!(send(&mut c, at(121) - Duration::from_micros(1)), None);
    assert_eq!(c.state(), Dhcpv4State::Rebinding);
    assert_eq!(c.poll_event(), None);
    // Expired: deconfigured, a DISCOVER in a new transaction at once.
    let (src, dst, bytes) = send_dhcp(&mut c, at(121));
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    assert_eq!((src, dst), (UNSPECIFIED, BROADCAST));
    assert_eq!(bytes, discover_bytes(c.transaction_id(), 0));
    assert_eq!(c.lease(), None);
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Deconfigured(lease_at(at(1))))
    );
    assert_eq!(c.poll_event(), None);
}

#[test]
fn nak_in_requesting_restarts_discovery() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(&mut c, at(1), &reply(DhcpMessageType::Offer, xid, |_| {}));
    send_dhcp(&mut c, at(1));
    // A NAK from another server is not ours to act on.
    deliver(
        &mut c,
        at(2),
        &reply(DhcpMessageType::Nak, xid, |r| {
            r.server_identifier = Some(Ipv4Address::new(198, 51, 100, 2))
        }),
    );
    assert_eq!(c.state(), Dhcpv4State::Requesting);
    deliver(&mut c, at(2), &reply(DhcpMessageType::Nak, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    assert_eq!(c.stats().naks, 1);
    let (_, _, bytes) = send_dhcp(&mut c, at(2));
    assert_ne!(c.transaction_id(), xid);
    assert_eq!(bytes, discover_bytes(c.transaction_id(), 0));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn nak_in_renewing_deconfigures() {
    let mut c = bound_client();
    send_dhcp(&mut c, at(11));
    let xid = c.transaction_id();
    deliver(&mut c, at(12), &reply(DhcpMessageType::Nak, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Deconfigured(lease_at(at(1))))
    );
    assert_eq!(c.poll_at(), Some(at(12)));
    let (_, _, bytes) = send_dhcp(&mut c, at(12));
    assert_eq!(bytes, discover_bytes(c.transaction_id(), 0));
}

#[test]
fn unanswered_requests_fall_back_to_discover() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(&mut c, at(1), &reply(DhcpMessageType::Offer, xid, |_| {}));
    let mut now = at(1);
    for n in 0..REQUEST_ATTEMPTS {
        let (_, _, bytes) = send_dhcp(&mut c, now);
        assert_eq!(parsed(&bytes).message_type, DhcpMessageType::Request, "{n}");
        now = c.poll_at().unwrap();
    }
    assert_eq!(c.state(), Dhcpv4State::Requesting);
    let (_, _, bytes) = send_dhcp(&mut c, now);
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    assert_ne!(c.transaction_id(), xid);
    assert_eq!(bytes, discover_bytes(c.transaction_id(), 0));
}

#[test]
fn release_sends_release_and_stops() {
    let mut c = bound_client();
    c.release();
    assert_eq!(c.state(), Dhcpv4State::Released);
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Deconfigured(lease_at(at(1))))
    );
    assert_eq!(c.poll_at(), Some(Instant::ZERO));
    let (src, dst, bytes) = send_dhcp(&mut c, at(5));
    // Unicast from the address to the server; ciaddr and server id.
    assert_eq!((src, dst), (OFFERED, SERVER));
    let xid = parsed(&bytes).transaction_id;
    assert_eq!(
        bytes,
        expected_message(
            xid,
            0,
            false,
            OFFERED,
            &[&[53, 1, 7], CLIENT_ID_OPTION, &[54, 4, 198, 51, 100, 1]]
        )
    );
    assert_eq!(c.poll_at(), None);
    assert_eq!(send(&mut c, at(1000)), None);
    // Reset starts over.
    c.reset();
    assert_eq!(c.state(), Dhcpv4State::Selecting);
    let (_, _, bytes) = send_dhcp(&mut c, at(1000));
    assert_eq!(bytes, discover_bytes(c.transaction_id(), 0));
}

#[test]
fn release_without_lease_just_stops() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    c.release();
    assert_eq!(c.state(), Dhcpv4State::Released);
    assert_eq!(c.poll_at(), None);
    assert_eq!(send(&mut c, at(10)), None);
    assert_eq!(c.poll_event(), None);
}

#[test]
fn replies_for_others_and_malformed_are_ignored() {
    let mut c = client();
    send_dhcp(&mut c, at(0));
    let xid = c.transaction_id();
    deliver(
        &mut c,
        at(1),
        &reply(DhcpMessageType::Offer, xid ^ 1, |_| {}),
    );
    deliver(
        &mut c,
        at(1),
        &reply(DhcpMessageType::Offer, xid, |r| {
            r.client_hardware_address = OTHER_MAC
        }),
    );
    assert_eq!(c.stats().rx_ignored, 2);
    deliver(&mut c, at(1), &[0u8; 100]);
    deliver(&mut c, at(1), &[]);
    assert_eq!(c.stats().rx_malformed, 2);
    // An offer without a server identifier, or of no usable address.
    deliver(
        &mut c,
        at(1),
        &reply(DhcpMessageType::Offer, xid, |r| r.server_identifier = None),
    );
    deliver(
        &mut c,
        at(1),
        &reply(DhcpMessageType::Offer, xid, |r| r.your_ip = BROADCAST),
    );
    assert_eq!(c.stats().rx_unusable, 2);
    // An ACK in SELECTING is not expected.
    deliver(&mut c, at(1), &reply(DhcpMessageType::Ack, xid, |_| {}));
    assert_eq!(c.stats().rx_ignored, 3);
    assert_eq!(c.state(), Dhcpv4State::Selecting);

    // In REQUESTING: an ACK without a lease time, or with a
    // non-contiguous mask, is refused; one from another server ignored.
    deliver(&mut c, at(1), &reply(DhcpMessageType::Offer, xid, |_| {}));
    send_dhcp(&mut c, at(1));
    deliver(
        &mut c,
        at(2),
        &reply(DhcpMessageType::Ack, xid, |r| r.lease_duration = None),
    );
    deliver(
        &mut c,
        at(2),
        &reply(DhcpMessageType::Ack, xid, |r| {
            r.subnet_mask = Some(Ipv4Address::new(255, 0, 255, 0))
        }),
    );
    assert_eq!(c.stats().rx_unusable, 4);
    deliver(
        &mut c,
        at(2),
        &reply(DhcpMessageType::Ack, xid, |r| {
            r.server_identifier = Some(Ipv4Address::new(198, 51, 100, 2))
        }),
    );
    assert_eq!(c.state(), Dhcpv4State::Requesting);
    // A second OFFER is ignored once requesting.
    deliver(&mut c, at(2), &reply(DhcpMessageType::Offer, xid, |_| {}));
    assert_eq!(c.state(), Dhcpv4State::Requesting);
}

#[test]
fn lease_times_defaults_inconsistent_and_infinite() {
    let lease_for = |edit: fn(&mut DhcpRepr)| {
        let mut c = client();
        c.set_arp_probe(false);
        send_dhcp(&mut c, at(0));
        let xid = c.transaction_id();
        deliver(&mut c, at(0), &reply(DhcpMessageType::Offer, xid, |_| {}));
        send_dhcp(&mut c, at(0));
        deliver(&mut c, at(0), &reply(DhcpMessageType::Ack, xid, edit));
        (c.lease().copied().unwrap(), c.poll_at())
    };
    let times = |l: Dhcpv4Lease| (l.renew_at, l.rebind_at, l.expires_at);
    // No T1/T2: 0.5 and 0.875 of the lease.
    let (lease, _) = lease_for(|r| {
        r.renew_duration = None;
        r.rebind_duration = None;
        r.lease_duration = Some(800);
    });
    assert_eq!(times(lease), (Some(at(400)), Some(at(700)), Some(at(800))));
    // T2 past the lease and T1 past T2 are replaced by the defaults.
    let (lease, _) = lease_for(|r| {
        r.renew_duration = Some(900);
        r.rebind_duration = Some(1000);
        r.lease_duration = Some(800);
    });
    assert_eq!(times(lease), (Some(at(400)), Some(at(700)), Some(at(800))));
    // Infinite: no timer at all.
    let (lease, poll_at) = lease_for(|r| r.lease_duration = Some(0xffff_ffff));
    assert_eq!(times(lease), (None, None, None));
    assert_eq!(lease.lease_duration, None);
    assert_eq!(poll_at, None);
    // Without a mask: the class prefix (198.51.100.0 is class C).
    let (lease, _) = lease_for(|r| r.subnet_mask = None);
    assert_eq!(lease.address, Ipv4Cidr::new(OFFERED, 24).unwrap());
}

#[test]
fn renewal_with_a_new_address_reports_both() {
    let mut c = bound_client();
    send_dhcp(&mut c, at(11));
    let xid = c.transaction_id();
    let moved = Ipv4Address::new(198, 51, 100, 60);
    deliver(
        &mut c,
        at(12),
        &reply(DhcpMessageType::Ack, xid, |r| r.your_ip = moved),
    );
    assert_eq!(
        c.poll_event(),
        Some(Dhcpv4Event::Deconfigured(lease_at(at(1))))
    );
    let Some(Dhcpv4Event::Configured(new)) = c.poll_event() else {
        panic!("no Configured")
    };
    assert_eq!(new.address, Ipv4Cidr::new(moved, 24).unwrap());
    assert_eq!(c.poll_event(), None);
}

#[test]
fn setters_validate() {
    let mut c = client();
    assert_eq!(c.set_host_name(""), Err(Dhcpv4Error::BadHostName));
    let long = "a".repeat(64);
    assert_eq!(c.set_host_name(&long), Err(Dhcpv4Error::BadHostName));
    assert_eq!(
        c.set_client_identifier(&[1]),
        Err(Dhcpv4Error::BadClientIdentifier)
    );
    assert_eq!(
        c.set_client_identifier(&[0; 33]),
        Err(Dhcpv4Error::BadClientIdentifier)
    );
    c.set_client_identifier(&[0, b'b', b'o', b'a', b'r', b'd'])
        .unwrap();
    let (_, _, bytes) = send_dhcp(&mut c, at(0));
    assert_eq!(parsed(&bytes).client_identifier, Some(&b"\0board"[..]));
    // A short buffer is refused, and the message is still due.
    let mut c = client();
    let mut small = [0u8; 100];
    assert_eq!(
        c.dispatch(at(0), &mut small),
        Err(Dhcpv4Error::BufferTooSmall)
    );
    assert_eq!(c.poll_at(), Some(Instant::ZERO));
    send_dhcp(&mut c, at(0));
}
