//! The property the `tcp_segment` fuzz target checks, shared with the
//! crate's tests (tests/fuzz_corpus.rs includes this file).
//!
//! For any bytes: parsing never panics; every view accessor and `Display`
//! is safe after `new_checked`; and whatever parses, re-emitted with fresh
//! checksums, parses again (with verification) to the same representation.

use pollnet::wire::{
    ArpPacket, ArpRepr, ChecksumCapabilities, Error, EthernetFrame, EthernetProtocol, EthernetRepr,
    Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
};

/// What [`check_frame`] got through, for tests that want to know the
/// fuzz property was exercised and not skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// Not an Ethernet/IPv4 frame that parsed.
    Nothing,
    /// An ARP packet parsed and round-tripped.
    Arp,
    /// An ICMPv4 message parsed and round-tripped.
    Icmp,
    /// A TCP segment parsed with every checksum verified and round-tripped.
    TcpVerified,
    /// A TCP segment parsed only with checksums ignored, round-tripped.
    TcpUnverified,
}

/// Runs the fuzz property on one input; panics when it does not hold.
pub fn check_frame(data: &[u8]) -> Reached {
    let verify = ChecksumCapabilities::default();
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return Reached::Nothing;
    };
    let _ = frame.to_string();
    let Ok(eth) = EthernetRepr::parse(&frame) else {
        return Reached::Nothing;
    };
    match eth.ethertype {
        EthernetProtocol::Ipv4 => {}
        EthernetProtocol::Arp => return check_arp(frame.payload()),
        _ => return Reached::Nothing,
    }
    let Ok(ip_packet) = Ipv4Packet::new_checked(frame.payload()) else {
        return Reached::Nothing;
    };
    let _ = ip_packet.to_string();
    let _ = (
        ip_packet.options(),
        ip_packet.is_fragment(),
        ip_packet.ecn(),
    );

    // With every checksum verified, as the interface parses.
    if let Ok(ip) = Ipv4Repr::parse(&ip_packet, &verify) {
        match ip.next_header {
            IpProtocol::Tcp => {
                if let Some(reached) = check_tcp(&eth, &ip, ip_packet.payload(), &verify) {
                    return reached;
                }
            }
            IpProtocol::Icmp => return check_icmp(ip_packet.payload()),
            _ => return Reached::Nothing,
        }
    }
    // Random bytes seldom carry valid checksums: parse once more with them
    // ignored so the fuzzer reaches the option parser, then the re-emitted
    // frame (with fresh checksums) must verify.
    let ignore = ChecksumCapabilities::ignored();
    let Ok(ip) = Ipv4Repr::parse(&ip_packet, &ignore) else {
        return Reached::Nothing;
    };
    if ip.next_header != IpProtocol::Tcp {
        return Reached::Nothing;
    }
    match check_tcp(&eth, &ip, ip_packet.payload(), &ignore) {
        Some(_) => Reached::TcpUnverified,
        None => Reached::Nothing,
    }
}

/// Parses `segment`; if it parses, re-emits Ethernet + IPv4 + TCP and checks
/// the new frame parses (checksums verified) to the same representations.
fn check_tcp(
    eth: &EthernetRepr,
    ip: &Ipv4Repr,
    segment: &[u8],
    caps: &ChecksumCapabilities,
) -> Option<Reached> {
    let packet = TcpPacket::new_checked(segment).ok()?;
    let _ = packet.to_string();
    let _ = packet.option_iter().count();
    let src = IpAddress::Ipv4(ip.src_addr);
    let dst = IpAddress::Ipv4(ip.dst_addr);
    let parsed = TcpRepr::parse(&packet, &src, &dst, caps);
    // The repr's option parser and the option iterator agree on errors.
    let iterator_error = packet.option_iter().find_map(Result::err);
    match parsed {
        Err(Error::BadChecksum) => {}
        Err(err) => assert_eq!(Some(err), iterator_error),
        Ok(_) => assert_eq!(None, iterator_error),
    }
    let tcp = parsed.ok()?;
    let _ = tcp.to_string();

    // Emit: the IPv4 payload length follows the re-emitted segment, whose
    // options may be laid out differently from the input's.
    let ip_out = Ipv4Repr {
        payload_len: tcp.buffer_len(),
        ..*ip
    };
    let mut out = vec![0u8; eth.buffer_len() + ip_out.buffer_len() + tcp.buffer_len()];
    let verify = ChecksumCapabilities::default();
    {
        let mut frame = EthernetFrame::new_unchecked(&mut out[..]);
        eth.emit(&mut frame);
        let mut ip_packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip_out.emit(&mut ip_packet, &verify);
        let mut tcp_packet = TcpPacket::new_unchecked(ip_packet.payload_mut());
        tcp.emit(&mut tcp_packet, &src, &dst, &verify);
    }

    // Parse again, verifying every checksum.
    let frame = EthernetFrame::new_checked(&out[..]).expect("re-emitted Ethernet");
    assert_eq!(EthernetRepr::parse(&frame), Ok(*eth));
    let ip_packet = Ipv4Packet::new_checked(frame.payload()).expect("re-emitted IPv4");
    assert_eq!(Ipv4Repr::parse(&ip_packet, &verify), Ok(ip_out));
    let tcp_packet = TcpPacket::new_checked(ip_packet.payload()).expect("re-emitted TCP");
    let again = TcpRepr::parse(&tcp_packet, &src, &dst, &verify).expect("re-emitted TCP parses");
    assert_eq!(again, tcp);
    assert_eq!(usize::from(tcp_packet.header_len()), tcp.header_len());
    Some(Reached::TcpVerified)
}

fn check_arp(payload: &[u8]) -> Reached {
    let Ok(packet) = ArpPacket::new_checked(payload) else {
        return Reached::Nothing;
    };
    let _ = packet.to_string();
    let Ok(repr) = ArpRepr::parse(&packet) else {
        return Reached::Nothing;
    };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
    let again = ArpRepr::parse(&ArpPacket::new_checked(&out[..]).expect("re-emitted ARP"));
    assert_eq!(again, Ok(repr));
    Reached::Arp
}

fn check_icmp(payload: &[u8]) -> Reached {
    let verify = ChecksumCapabilities::default();
    let Ok(packet) = Icmpv4Packet::new_checked(payload) else {
        return Reached::Nothing;
    };
    let _ = packet.to_string();
    let Ok(repr) = Icmpv4Repr::parse(&packet, &verify) else {
        return Reached::Nothing;
    };
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]), &verify);
    let again_packet = Icmpv4Packet::new_checked(&out[..]).expect("re-emitted ICMP");
    assert_eq!(Icmpv4Repr::parse(&again_packet, &verify), Ok(repr));
    Reached::Icmp
}
