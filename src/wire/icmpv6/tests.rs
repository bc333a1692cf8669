//! ICMPv6 messages captured from Linux, parsed and re-emitted byte for
//! byte; every error path; never-panic loops. NDP and MLD have their own
//! tests beside their modules; [`linux_icmpv6`] is shared with them.

extern crate std;
use super::*;
use crate::wire::testdata::{Rng, ipv6_packet};
use crate::wire::{Ipv6Packet, ipv6ext};
use std::string::ToString;
use std::vec;
use std::vec::Vec;

/// Source, destination and ICMPv6 message of frame `number` of the IPv6
/// capture (after any extension headers).
pub(crate) fn linux_icmpv6(number: usize) -> (Ipv6Address, Ipv6Address, &'static [u8]) {
    let packet = Ipv6Packet::new_checked(ipv6_packet(number)).unwrap();
    let upper = ipv6ext::walk(packet.next_header(), packet.payload()).unwrap();
    assert_eq!(upper.protocol, IpProtocol::Icmpv6, "frame {number}");
    (
        packet.src_addr(),
        packet.dst_addr(),
        &packet.payload()[upper.offset..],
    )
}

fn caps() -> ChecksumCapabilities {
    ChecksumCapabilities::default()
}

/// Parses frame `number`'s ICMPv6 message, checks that re-emitting it
/// gives Linux's bytes, and returns the repr.
pub(crate) fn parse_and_reemit(number: usize) -> Icmpv6Repr<'static> {
    let (src, dst, bytes) = linux_icmpv6(number);
    let packet = Icmpv6Packet::new_checked(bytes).unwrap();
    assert!(packet.verify_checksum(&src, &dst), "frame {number}");
    let repr = Icmpv6Repr::parse(&src, &dst, &packet, &caps()).unwrap();
    assert_eq!(repr.buffer_len(), bytes.len(), "frame {number}");
    assert_eq!(emit(&src, &dst, &repr), bytes, "frame {number}");
    repr
}

pub(crate) fn emit(src: &Ipv6Address, dst: &Ipv6Address, repr: &Icmpv6Repr) -> Vec<u8> {
    let mut out = vec![0xa5u8; repr.buffer_len()];
    repr.emit(
        src,
        dst,
        &mut Icmpv6Packet::new_unchecked(&mut out[..]),
        &caps(),
    );
    out
}

fn addr(text: &str) -> Ipv6Address {
    text.parse().unwrap()
}

const CLIENT: &str = "2001:db8:1::ff:fe00:102";

#[test]
fn linux_echo_request_and_reply() {
    let data: Vec<u8> = (0x10..0x48).collect();
    assert_eq!(
        parse_and_reemit(28),
        Icmpv6Repr::EchoRequest {
            ident: 0x4242,
            seq_no: 1,
            data: &data,
        }
    );
    let reply = parse_and_reemit(29);
    assert_eq!(
        reply,
        Icmpv6Repr::EchoReply {
            ident: 0x4242,
            seq_no: 1,
            data: &data,
        }
    );
    assert_eq!(reply.to_string(), "ICMPv6 echo reply id=16962 seq=1 len=56");
    let (src, _, bytes) = linux_icmpv6(29);
    let packet = Icmpv6Packet::new_checked(bytes).unwrap();
    assert_eq!(packet.msg_type(), Icmpv6Message::EchoReply);
    assert_eq!((packet.echo_ident(), packet.echo_seq_no()), (0x4242, 1));
    assert_eq!(packet.to_string(), "ICMPv6 echo reply code=0 len=64");
    assert_eq!(src, addr("2001:db8:1::1"));
}

#[test]
fn linux_packet_too_big() {
    // The router's answer to a 1400-byte echo towards a 1280-byte link:
    // the invoking packet quoted up to the minimum MTU.
    let repr = parse_and_reemit(38);
    let Icmpv6Repr::PktTooBig { mtu, header, data } = repr else {
        panic!("{repr:?}");
    };
    assert_eq!(mtu, 1280);
    assert_eq!(header.src_addr, addr(CLIENT));
    assert_eq!(header.dst_addr, addr("2001:db8:2::2"));
    assert_eq!(header.next_header, IpProtocol::Icmpv6);
    assert_eq!(header.payload_len, 1408);
    // 1280 - 40 (IPv6) - 8 (ICMPv6) - 40 (quoted header) bytes quoted.
    assert_eq!(data.len(), 1192);
    assert_eq!(8 + 40 + data.len(), MAX_ERROR_LEN);
    // An echo request.
    assert_eq!(&data[..2], &[128, 0]);
    assert_eq!(
        repr.to_string(),
        "ICMPv6 packet too big mtu=1280 (IPv6 src=2001:db8:1::ff:fe00:102 dst=2001:db8:2::2 \
         nxt=ICMPv6 payload=1408 hlim=64)"
    );
}

#[test]
fn linux_time_exceeded_and_unreachables() {
    let repr = parse_and_reemit(43);
    let Icmpv6Repr::TimeExceeded {
        reason,
        header,
        data,
    } = repr
    else {
        panic!("{repr:?}");
    };
    assert_eq!(reason, Icmpv6TimeExceeded::HopLimitExceeded);
    // The router quotes the packet as it received it, hop limit 1.
    assert_eq!(header.hop_limit, 1);
    assert_eq!(&data[..2], &[128, 0]);
    assert_eq!(&data[4..8], &[0x42, 0x42, 0, 1]);

    // A UDP datagram to a closed port: the quoted UDP header gives the
    // ports back, found by walking the quoted packet.
    let repr = parse_and_reemit(45);
    let Icmpv6Repr::DstUnreachable {
        reason,
        header,
        data,
    } = repr
    else {
        panic!("{repr:?}");
    };
    assert_eq!(reason, Icmpv6DstUnreachable::PortUnreachable);
    assert_eq!(header.next_header, IpProtocol::Udp);
    let upper = ipv6ext::walk(header.next_header, data).unwrap();
    let udp = &data[upper.offset..];
    assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 9);
    assert_eq!(&udp[8..], b"hi\n");

    let repr = parse_and_reemit(51);
    assert!(matches!(
        repr,
        Icmpv6Repr::DstUnreachable {
            reason: Icmpv6DstUnreachable::AddrUnreachable,
            ..
        }
    ));
}

#[test]
fn linux_parameter_problems() {
    let repr = parse_and_reemit(54);
    let Icmpv6Repr::ParamProblem {
        reason,
        pointer,
        header,
        data,
    } = repr
    else {
        panic!("{repr:?}");
    };
    assert_eq!(
        (reason, pointer),
        (Icmpv6ParamProblem::UnrecognizedOption, 42)
    );
    assert_eq!(header.next_header, IpProtocol::Ipv6Opts);
    // The quoted packet walks to the same verdict Linux reached.
    assert_eq!(
        ipv6ext::walk(header.next_header, data)
            .unwrap_err()
            .icmp_report(false),
        Some((reason, pointer))
    );
    let repr = parse_and_reemit(56);
    assert!(matches!(
        repr,
        Icmpv6Repr::ParamProblem {
            reason: Icmpv6ParamProblem::UnrecognizedNextHeader,
            pointer: 40,
            ..
        }
    ));
    assert_eq!(
        repr.to_string(),
        "ICMPv6 parameter problem code=1 pointer=40 (IPv6 src=2001:db8:1::ff:fe00:102 \
         dst=2001:db8:1::1 nxt=IPv6 destination options payload=32 hlim=64)"
    );
}

#[test]
fn codes_convert_both_ways() {
    for code in 0..=255u8 {
        assert_eq!(u8::from(Icmpv6Message::from(code)), code);
        assert_eq!(u8::from(Icmpv6DstUnreachable::from(code)), code);
        assert_eq!(u8::from(Icmpv6TimeExceeded::from(code)), code);
        assert_eq!(u8::from(Icmpv6ParamProblem::from(code)), code);
        assert_eq!(Icmpv6Message::from(code).is_error(), code < 128);
    }
    assert_eq!(Icmpv6Message::from(143), Icmpv6Message::MldReport);
    assert_eq!(
        Icmpv6ParamProblem::from(3),
        Icmpv6ParamProblem::IncompleteHeaderChain
    );
    assert_eq!(Icmpv6Message::from(200).to_string(), "type 200");
}

#[test]
fn errors() {
    let (src, dst, bytes) = linux_icmpv6(28);
    for len in 0..8 {
        assert_eq!(
            Icmpv6Packet::new_checked(&bytes[..len]),
            Err(Error::Truncated)
        );
        let packet = Icmpv6Packet::new_unchecked(&bytes[..len]);
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &caps()),
            Err(Error::Truncated)
        );
        assert_eq!(packet.to_string(), "ICMPv6 (truncated header)");
    }
    // A bad checksum, verified or not.
    let mut bad = bytes.to_vec();
    bad[20] ^= 0x01;
    let packet = Icmpv6Packet::new_checked(&bad[..]).unwrap();
    assert_eq!(
        Icmpv6Repr::parse(&src, &dst, &packet, &caps()),
        Err(Error::BadChecksum)
    );
    assert!(Icmpv6Repr::parse(&src, &dst, &packet, &ChecksumCapabilities::ignored()).is_ok());
    // The checksum covers the pseudo-header: other addresses fail.
    let packet = Icmpv6Packet::new_checked(bytes).unwrap();
    assert!(!packet.verify_checksum(&src, &addr("2001:db8:1::2")));

    let refill = |mut message: Vec<u8>| {
        Icmpv6Packet::new_unchecked(&mut message[..]).fill_checksum(&src, &dst);
        message
    };
    // An echo with a non-zero code, and informational types not handled.
    for (at, value) in [(1, 1u8), (0, 200), (0, 131), (0, 132)] {
        let mut message = bytes.to_vec();
        message[at] = value;
        let message = refill(message);
        let packet = Icmpv6Packet::new_checked(&message[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&src, &dst, &packet, &caps()),
            Err(Error::Unrecognized),
            "byte {at} = {value}"
        );
    }
    // An error message whose invoking packet is shorter than a header, or
    // not IPv6.
    let (src2, dst2, unreachable) = linux_icmpv6(45);
    for len in 8..48 {
        let mut short = unreachable[..len].to_vec();
        Icmpv6Packet::new_unchecked(&mut short[..]).fill_checksum(&src2, &dst2);
        let packet = Icmpv6Packet::new_checked(&short[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&src2, &dst2, &packet, &caps()),
            Err(Error::Truncated)
        );
    }
    let mut v4 = unreachable.to_vec();
    v4[8] = 0x45;
    Icmpv6Packet::new_unchecked(&mut v4[..]).fill_checksum(&src2, &dst2);
    let packet = Icmpv6Packet::new_checked(&v4[..]).unwrap();
    assert_eq!(
        Icmpv6Repr::parse(&src2, &dst2, &packet, &caps()),
        Err(Error::BadVersion)
    );
}

#[test]
fn emit_without_checksum_and_setters() {
    let src = addr(CLIENT);
    let dst = addr("2001:db8:1::1");
    let repr = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 9,
        data: b"ping",
    };
    let offload = ChecksumCapabilities {
        icmpv6: crate::wire::Checksum::Rx,
        ..caps()
    };
    let mut out = vec![0xffu8; repr.buffer_len()];
    repr.emit(
        &src,
        &dst,
        &mut Icmpv6Packet::new_unchecked(&mut out[..]),
        &offload,
    );
    assert_eq!(&out[..8], &[128, 0, 0, 0, 0, 7, 0, 9]);

    let mut bytes = [0u8; 12];
    let mut packet = Icmpv6Packet::new_unchecked(&mut bytes[..]);
    packet.set_msg_type(Icmpv6Message::PktTooBig);
    packet.set_msg_code(0);
    packet.set_pkt_too_big_mtu(1280);
    packet.data_mut().copy_from_slice(&[1, 2, 3, 4]);
    packet.fill_checksum(&src, &dst);
    let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
    assert!(packet.verify_checksum(&src, &dst));
    assert_eq!(packet.pkt_too_big_mtu(), 1280);
    assert_eq!(packet.param_problem_ptr(), 1280);
    assert_eq!(packet.data(), &[1, 2, 3, 4]);
    // Fields of other message types past the buffer read as zero.
    assert_eq!(
        packet.target_addr(),
        Ipv6Address([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(packet.dest_addr(), Ipv6Address::UNSPECIFIED);
    assert_eq!(packet.reachable_time(), 0x0102_0304);
    assert_eq!(packet.retrans_time(), 0);
    assert!(packet.ndisc_options().is_empty());

    // An error message built from scratch round-trips.
    let header = Ipv6Repr {
        src_addr: dst,
        dst_addr: src,
        next_header: IpProtocol::Tcp,
        payload_len: 20,
        hop_limit: 1,
        traffic_class: 0x02,
        flow_label: 0x12345,
    };
    let repr = Icmpv6Repr::TimeExceeded {
        reason: Icmpv6TimeExceeded::FragReassemblyExceeded,
        header,
        data: &[0x13, 0x88, 0xc3, 0x50, 0, 0, 0, 1],
    };
    let bytes = emit(&src, &dst, &repr);
    assert_eq!(&bytes[..8], &[3, 1, bytes[2], bytes[3], 0, 0, 0, 0]);
    let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(Icmpv6Repr::parse(&src, &dst, &packet, &caps()), Ok(repr));
}

#[test]
fn parse_never_panics_and_round_trips() {
    let mut rng = Rng(0x0001_c3b6);
    let frames: Vec<usize> = (1..=57).collect();
    let ignore = ChecksumCapabilities::ignored();
    let mut reparsed = 0;
    for round in 0..30_000 {
        let number = frames[rng.below(frames.len())];
        let packet = Ipv6Packet::new_checked(ipv6_packet(number)).unwrap();
        let (src, dst) = (packet.src_addr(), packet.dst_addr());
        let Ok(upper) = ipv6ext::walk(packet.next_header(), packet.payload()) else {
            continue;
        };
        let message = &packet.payload()[upper.offset..];
        let bytes = if round % 8 == 0 {
            let len = rng.below(80);
            rng.bytes(len)
        } else {
            rng.mutate(message)
        };
        let Ok(view) = Icmpv6Packet::new_checked(&bytes[..]) else {
            continue;
        };
        let _ = view.to_string();
        let _ = (
            view.target_addr(),
            view.ndisc_options(),
            view.query_num_sources(),
            view.dest_addr(),
        );
        // Checksums rarely survive damage: parse them ignored.
        let Ok(repr) = Icmpv6Repr::parse(&src, &dst, &view, &ignore) else {
            continue;
        };
        let _ = repr.to_string();
        let out = emit(&src, &dst, &repr);
        let again = Icmpv6Packet::new_checked(&out[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&src, &dst, &again, &caps()), Ok(repr));
        reparsed += 1;
    }
    assert!(reparsed > 5_000, "{reparsed}");
}
