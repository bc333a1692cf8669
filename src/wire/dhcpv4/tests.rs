//! DHCP messages from a dnsmasq exchange (linux-dhcp.pcap), parsed and
//! re-emitted; client messages built from scratch equal the captured ones
//! dnsmasq answered; every error path; never-panic loops.

extern crate std;
use super::*;
use crate::wire::testdata::{DHCP_PCAP, Rng, udp_payload};
use std::string::ToString;
use std::vec;
use std::vec::Vec;

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);
const XID: u32 = 0x3903_f326;
const SERVER: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);
/// The client identifier the client sent: type 1 (Ethernet), its MAC.
const CLIENT_ID: [u8; 7] = [1, 2, 0, 0, 0, 1, 2];
/// The parameters the client asked for.
const PARAMS: [u8; 10] = [1, 3, 6, 12, 15, 26, 28, 51, 58, 59];

fn message(number: usize) -> &'static [u8] {
    udp_payload(DHCP_PCAP, number)
}

fn parse(bytes: &[u8]) -> Result<DhcpRepr<'_>> {
    DhcpRepr::parse(&DhcpPacket::new_checked(bytes)?)
}

fn emit(repr: &DhcpRepr) -> Vec<u8> {
    let mut out = vec![0xa5u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
        .unwrap();
    out
}

fn client(message_type: DhcpMessageType, xid: u32) -> DhcpRepr<'static> {
    DhcpRepr {
        client_identifier: Some(&CLIENT_ID),
        ..DhcpRepr::new(message_type, xid, MAC)
    }
}

#[test]
fn dnsmasq_offer_ack_and_nak() {
    let offer = parse(message(2)).unwrap();
    let expected = DhcpRepr {
        broadcast: true,
        your_ip: Ipv4Address::new(192, 0, 2, 51),
        server_ip: SERVER,
        server_identifier: Some(SERVER),
        lease_duration: Some(120),
        renew_duration: Some(10),
        rebind_duration: Some(15),
        subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
        routers: Ipv4AddressList::from_slice(&[SERVER]),
        dns_servers: Ipv4AddressList::from_slice(&[SERVER, Ipv4Address::new(192, 0, 2, 53)]),
        interface_mtu: Some(1400),
        ..DhcpRepr::new(DhcpMessageType::Offer, XID, MAC)
    };
    assert_eq!(offer, expected);
    assert_eq!(
        offer.to_string(),
        "DHCP OFFER xid=0x3903f326 chaddr=02:00:00:00:01:02 yiaddr=192.0.2.51 \
         server=192.0.2.1 lease=120s"
    );
    // The ACK adds the host name the client sent.
    let ack = parse(message(4)).unwrap();
    assert_eq!(
        ack,
        DhcpRepr {
            message_type: DhcpMessageType::Ack,
            host_name: Some(b"pollnet"),
            ..expected
        }
    );
    let nak = parse(message(7)).unwrap();
    assert_eq!(
        nak,
        DhcpRepr {
            broadcast: true,
            server_identifier: Some(SERVER),
            message: Some(b"wrong network"),
            ..DhcpRepr::new(DhcpMessageType::Nak, XID + 2, MAC)
        }
    );
    // Re-emitted (without the broadcast address option we skip), they parse
    // to the same thing.
    for repr in [offer, ack, nak] {
        assert_eq!(parse(&emit(&repr)), Ok(repr));
    }
    let view = DhcpPacket::new_checked(message(2)).unwrap();
    assert_eq!(view.opcode(), DhcpOpCode::Reply);
    assert_eq!(
        (view.hardware_type(), view.hardware_len(), view.hops()),
        (1, 6, 0)
    );
    assert_eq!(view.magic_number(), MAGIC_COOKIE);
    assert_eq!(view.chaddr()[6..], [0; 10]);
    assert!(view.server_name().iter().all(|&b| b == 0));
    assert!(view.file().iter().all(|&b| b == 0));
    assert_eq!(
        view.to_string(),
        "DHCP op=2 xid=0x3903f326 chaddr=02:00:00:00:01:02 yiaddr=192.0.2.51"
    );
}

#[test]
fn client_messages_are_the_bytes_dnsmasq_answered() {
    let offered = Ipv4Address::new(192, 0, 2, 51);
    let discover = DhcpRepr {
        broadcast: true,
        parameter_request_list: Some(&PARAMS),
        max_message_size: Some(1500),
        host_name: Some(b"pollnet"),
        ..client(DhcpMessageType::Discover, XID)
    };
    assert_eq!(emit(&discover), message(1));
    assert_eq!(parse(message(1)), Ok(discover));

    let request = DhcpRepr {
        broadcast: true,
        requested_ip: Some(offered),
        server_identifier: Some(SERVER),
        parameter_request_list: Some(&PARAMS),
        host_name: Some(b"pollnet"),
        ..client(DhcpMessageType::Request, XID)
    };
    assert_eq!(emit(&request), message(3));

    // DECLINE after a conflict (RFC 2131 4.4.1): unicast flag off.
    let decline = DhcpRepr {
        requested_ip: Some(offered),
        server_identifier: Some(SERVER),
        ..client(DhcpMessageType::Decline, XID + 1)
    };
    assert_eq!(emit(&decline), message(5));

    // RELEASE from the leased address (RFC 2131 4.4.6).
    let leased = Ipv4Address::new(192, 0, 2, 52);
    let release = DhcpRepr {
        client_ip: leased,
        server_identifier: Some(SERVER),
        ..client(DhcpMessageType::Release, XID + 4)
    };
    assert_eq!(emit(&release), message(12));
    assert_eq!(release.buffer_len(), MIN_MESSAGE_LEN);
    // Every client message in the capture parses and re-emits exactly.
    for number in [1, 3, 5, 6, 8, 10, 12] {
        let repr = parse(message(number)).unwrap();
        assert_eq!(emit(&repr), message(number), "frame {number}");
        assert_eq!(repr.message_type.opcode(), DhcpOpCode::Request);
    }
}

/// A message with `options` after the cookie and `file`/`sname` contents.
fn build(op: u8, options: &[u8], file: &[u8], sname: &[u8]) -> Vec<u8> {
    let mut out = emit(&DhcpRepr::new(DhcpMessageType::Discover, 1, MAC));
    out[0] = op;
    out.truncate(HEADER_LEN);
    out[field::FILE][..file.len()].copy_from_slice(file);
    out[field::SNAME][..sname.len()].copy_from_slice(sname);
    out.extend_from_slice(options);
    out
}

#[test]
fn option_overload() {
    // Overload 3: the options continue in file, then in sname.
    let bytes = build(
        2,
        &[53, 1, 5, 52, 1, 3, 255],
        &[54, 4, 192, 0, 2, 1, 3, 4, 192, 0, 2, 1, 255],
        &[51, 4, 0, 0, 0, 60, 3, 4, 192, 0, 2, 2, 255],
    );
    let repr = parse(&bytes).unwrap();
    assert_eq!(repr.message_type, DhcpMessageType::Ack);
    assert_eq!(repr.server_identifier, Some(SERVER));
    assert_eq!(repr.lease_duration, Some(60));
    // Routers accumulate: file comes before sname.
    assert_eq!(
        repr.routers.as_slice(),
        &[SERVER, Ipv4Address::new(192, 0, 2, 2)]
    );
    // Re-emitted without overload, the same representation.
    assert_eq!(parse(&emit(&repr)), Ok(repr));
    // Overload 1 reads file only; 2 sname only.
    let file_only = build(
        2,
        &[53, 1, 5, 52, 1, 1],
        &[51, 4, 0, 0, 0, 60],
        &[58, 4, 0, 0, 0, 9],
    );
    let repr = parse(&file_only).unwrap();
    assert_eq!((repr.lease_duration, repr.renew_duration), (Some(60), None));
    let sname_only = build(
        2,
        &[53, 1, 5, 52, 1, 2],
        &[51, 4, 0, 0, 0, 60],
        &[58, 4, 0, 0, 0, 9],
    );
    let repr = parse(&sname_only).unwrap();
    assert_eq!((repr.lease_duration, repr.renew_duration), (None, Some(9)));
    // Without overload, file and sname are names, not options.
    let plain = build(2, &[53, 1, 5], &[51, 4, 0, 0, 0, 60], &[]);
    assert_eq!(parse(&plain).unwrap().lease_duration, None);
    // An overload value other than 1..=3, or of the wrong length.
    for bad in [[52, 1, 0], [52, 1, 4]] {
        let bytes = build(2, &[&[53, 1, 5][..], &bad].concat(), &[], &[]);
        assert_eq!(parse(&bytes), Err(Error::BadOption));
    }
    let bytes = build(2, &[53, 1, 5, 52, 2, 1, 1], &[], &[]);
    assert_eq!(parse(&bytes), Err(Error::BadOption));
    // An overload option inside file is ignored.
    let bytes = build(
        2,
        &[53, 1, 5, 52, 1, 1],
        &[52, 1, 2, 51, 4, 0, 0, 0, 1],
        &[51, 4, 0, 0, 0, 2],
    );
    assert_eq!(parse(&bytes).unwrap().lease_duration, Some(1));
    // A message type found only in the overloaded file still counts.
    let bytes = build(2, &[52, 1, 1], &[53, 1, 2], &[]);
    assert_eq!(parse(&bytes).unwrap().message_type, DhcpMessageType::Offer);
}

#[test]
fn lists_are_bounded_and_first_scalars_win() {
    let mut options = vec![53, 1, 2, 3, 20];
    for i in 1..=5 {
        options.extend_from_slice(&[192, 0, 2, i]);
    }
    // DNS servers in two options (RFC 3396), then a second lease option.
    options.extend_from_slice(&[6, 8, 198, 51, 100, 1, 198, 51, 100, 2]);
    options.extend_from_slice(&[6, 12, 198, 51, 100, 3, 198, 51, 100, 4, 198, 51, 100, 5]);
    options.extend_from_slice(&[51, 4, 0, 0, 0, 1, 51, 4, 0, 0, 0, 2]);
    options.extend_from_slice(&[26, 2, 0, 67, 0, 0, 255]);
    let bytes = build(2, &options, &[], &[]);
    let repr = parse(&bytes).unwrap();
    assert_eq!(repr.routers.len(), MAX_ROUTERS);
    assert_eq!(repr.routers.first(), Some(Ipv4Address::new(192, 0, 2, 1)));
    assert_eq!(
        repr.dns_servers.as_slice(),
        &[1, 2, 3, 4].map(|i| Ipv4Address::new(198, 51, 100, i))
    );
    assert_eq!(repr.lease_duration, Some(1));
    // An MTU below 68 is ignored (RFC 2132 5.1).
    assert_eq!(repr.interface_mtu, None);
    assert_eq!(parse(&emit(&repr)), Ok(repr));

    let mut list = Ipv4AddressList::<2>::new();
    assert!(list.is_empty());
    assert!(list.push(SERVER) && list.push(SERVER));
    assert!(!list.push(SERVER));
    assert_eq!(list.len(), 2);
    assert_eq!(Ipv4AddressList::<2>::default().first(), None);
}

#[test]
fn errors() {
    let offer = message(2);
    for len in 0..HEADER_LEN {
        assert_eq!(parse(&offer[..len]), Err(Error::Truncated));
        assert_eq!(
            DhcpRepr::parse(&DhcpPacket::new_unchecked(&offer[..len])),
            Err(Error::Truncated)
        );
    }
    assert_eq!(
        DhcpPacket::new_unchecked(&offer[..10]).to_string(),
        "DHCP (truncated header)"
    );
    let damaged = |at: usize, value: u8| {
        let mut bytes = offer.to_vec();
        bytes[at] = value;
        parse(&bytes).map(|repr| repr.message_type)
    };
    // Not Ethernet, a wrong cookie, an unknown or mismatched operation.
    assert_eq!(damaged(1, 6), Err(Error::Unrecognized));
    assert_eq!(damaged(2, 16), Err(Error::Unrecognized));
    assert_eq!(damaged(236, 0), Err(Error::Unrecognized));
    assert_eq!(damaged(0, 3), Err(Error::Unrecognized));
    assert_eq!(damaged(0, 1), Err(Error::Unrecognized));
    // An unknown message type may come in either operation.
    assert_eq!(damaged(242, 42), Ok(DhcpMessageType::Unknown(42)));
    // No message type (BOOTP).
    assert_eq!(parse(&build(1, &[255], &[], &[])), Err(Error::Unrecognized));
    // Options past the end, with and without their length byte.
    assert_eq!(
        parse(&build(1, &[53, 1, 1, 12, 9, b'a'], &[], &[])),
        Err(Error::BadOption)
    );
    assert_eq!(
        parse(&build(1, &[53, 1, 1, 12], &[], &[])),
        Err(Error::BadOption)
    );
    // Known options of the wrong length.
    for bad in [
        &[53, 2, 1, 1][..],
        &[53, 1, 1, 54, 3, 1, 2, 3],
        &[53, 1, 1, 3, 5, 1, 2, 3, 4, 5],
        &[53, 1, 1, 6, 0],
        &[53, 1, 1, 26, 1, 5],
        &[53, 1, 1, 57, 3, 0, 0, 0],
        &[53, 1, 1, 51, 2, 0, 1],
        &[53, 1, 1, 61, 1, 1],
        &[53, 1, 1, 12, 0],
        &[53, 1, 1, 55, 0],
        &[53, 1, 1, 56, 0],
    ] {
        assert_eq!(
            parse(&build(1, bad, &[], &[])),
            Err(Error::BadOption),
            "{bad:?}"
        );
    }
    // Unknown options, pads and a missing end are fine.
    let bytes = build(1, &[0, 0, 53, 1, 1, 0, 200, 3, 1, 2, 3, 43, 0], &[], &[]);
    let repr = parse(&bytes).unwrap();
    assert_eq!(repr.message_type, DhcpMessageType::Discover);

    // Emit errors.
    let repr = client(DhcpMessageType::Discover, 1);
    let mut short = vec![0u8; repr.buffer_len() - 1];
    assert_eq!(
        repr.emit(&mut DhcpPacket::new_unchecked(&mut short[..])),
        Err(Error::BufferTooSmall)
    );
    let long = [b'x'; 256];
    let repr = DhcpRepr {
        host_name: Some(&long),
        ..repr
    };
    let mut out = vec![0u8; repr.buffer_len()];
    assert_eq!(
        repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..])),
        Err(Error::BadOption)
    );
}

#[test]
fn codes_convert_both_ways() {
    for value in 0..=255u8 {
        assert_eq!(u8::from(DhcpMessageType::from(value)), value);
        assert_eq!(u8::from(DhcpOpCode::from(value)), value);
    }
    assert_eq!(DhcpMessageType::from(7).to_string(), "RELEASE");
    assert_eq!(DhcpMessageType::from(99).to_string(), "type 99");
    let mut out = [0u8; 3];
    assert_eq!(
        DhcpOption {
            kind: 1,
            data: &[1, 2]
        }
        .emit(&mut out),
        Err(Error::BufferTooSmall)
    );
}

#[test]
fn setters() {
    let mut bytes = vec![0u8; HEADER_LEN];
    let mut packet = DhcpPacket::new_unchecked(&mut bytes[..]);
    packet.set_opcode(DhcpOpCode::Request);
    packet.set_hardware_type(1);
    packet.set_hardware_len(6);
    packet.set_hops(1);
    packet.set_transaction_id(0xdeadbeef);
    packet.set_secs(3);
    packet.set_flags(0x8000);
    packet.set_client_ip(Ipv4Address::new(1, 2, 3, 4));
    packet.set_your_ip(Ipv4Address::new(5, 6, 7, 8));
    packet.set_server_ip(Ipv4Address::new(9, 10, 11, 12));
    packet.set_relay_agent_ip(Ipv4Address::new(13, 14, 15, 16));
    packet.set_client_hardware_address(MAC);
    packet.server_name_mut()[0] = b's';
    packet.file_mut()[0] = b'f';
    packet.set_magic_number(MAGIC_COOKIE);
    assert!(packet.options_mut().is_empty());
    assert_eq!(
        &bytes[..28],
        &[
            1, 1, 6, 1, 0xde, 0xad, 0xbe, 0xef, 0, 3, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
            12, 13, 14, 15, 16
        ]
    );
    let packet = DhcpPacket::new_checked(&bytes[..]).unwrap();
    assert!(packet.broadcast_flag());
    assert_eq!(packet.client_hardware_address(), MAC);
    assert_eq!((packet.server_name()[0], packet.file()[0]), (b's', b'f'));
    assert_eq!(packet.relay_agent_ip(), Ipv4Address::new(13, 14, 15, 16));
}

#[test]
fn parse_never_panics_and_round_trips() {
    let mut rng = Rng(0xd4c9);
    let mut round_tripped = 0;
    for round in 0..20_000 {
        let seed = message(1 + rng.below(12));
        let mut bytes = rng.mutate(seed);
        // Aim most damage at the options and the cookie.
        if round % 2 == 0 && bytes.len() > HEADER_LEN {
            let at = 236 + rng.below(bytes.len() - 236);
            bytes[at] = rng.next() as u8;
        }
        let Ok(packet) = DhcpPacket::new_checked(&bytes[..]) else {
            continue;
        };
        let _ = packet.to_string();
        for item in DhcpOptionsIter::new(packet.options()).take(400) {
            let _ = item;
        }
        let Ok(repr) = DhcpRepr::parse(&packet) else {
            continue;
        };
        let _ = repr.to_string();
        let out = emit(&repr);
        assert_eq!(parse(&out), Ok(repr));
        round_tripped += 1;
    }
    assert!(round_tripped > 2_000, "{round_tripped}");
}
