//! The properties the `dhcpv4`, `dns` and `ipv6` fuzz targets check, shared
//! with the crate's tests (tests/fuzz_wire_corpus.rs includes this file).
//!
//! For any bytes: parsing never panics, nor does any accessor, iterator or
//! `Display` after a successful parse; and whatever parses, re-emitted
//! (with fresh checksums where there are any), parses again to the same
//! representation: `parse(emit(parse(x))) == parse(x)`.
#![allow(dead_code)]

use pollnet::wire::dhcpv4::DhcpOptionsIter;
use pollnet::wire::dns::{DnsName, MAX_NAME_LEN};
use pollnet::wire::ipv6ext::{self, Ipv6ExtHeader, Ipv6FragmentHeader, MAX_EXT_HEADERS};
use pollnet::wire::{
    ChecksumCapabilities, DhcpPacket, DhcpRepr, DnsPacket, DnsQueryRepr, DnsRecordData, DnsRepr,
    Error, Icmpv6Packet, Icmpv6Repr, IpAddress, IpProtocol, Ipv6Address, Ipv6FragmentRepr,
    Ipv6OptionsRepr, Ipv6Packet, Ipv6Repr, Ipv6RoutingRepr, MldRepr, UdpPacket, UdpRepr,
};

/// Checks the DHCP property on one message; returns whether it parsed.
pub fn check_dhcpv4(data: &[u8]) -> bool {
    let Ok(packet) = DhcpPacket::new_checked(data) else {
        return false;
    };
    let _ = packet.to_string();
    let _ = DhcpOptionsIter::new(packet.options()).count();
    let _ = DhcpOptionsIter::new(packet.file()).count();
    let Ok(repr) = DhcpRepr::parse(&packet) else {
        return false;
    };
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
        .expect("a parsed DHCP message re-emits");
    let again = DhcpRepr::parse(&DhcpPacket::new_checked(&out[..]).expect("re-emitted DHCP"));
    assert_eq!(again, Ok(repr));
    true
}

/// The labels of `name` as dotted text in `out`, if every label is UTF-8
/// without dots (the only names a dotted query can carry).
fn dotted<'b>(name: &DnsName, out: &'b mut String) -> Option<&'b str> {
    out.clear();
    for (i, label) in name.labels().enumerate() {
        let text = std::str::from_utf8(label).ok()?;
        if text.contains('.') {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(text);
    }
    Some(out.as_str())
}

/// Checks the DNS property on one message; returns whether it parsed.
pub fn check_dns(data: &[u8]) -> bool {
    let Ok(packet) = DnsPacket::new_checked(data) else {
        return false;
    };
    let _ = packet.to_string();
    let Ok(repr) = DnsRepr::parse(&packet) else {
        return false;
    };
    let mut buf = [0u8; MAX_NAME_LEN];
    let mut check_name = |name: &DnsName| {
        let len = name
            .copy_uncompressed(&mut buf)
            .expect("names fit 255 bytes");
        assert_eq!(len, name.wire_len());
        assert!(name.eq_uncompressed(&buf[..len]));
        assert!(
            name.labels()
                .all(|label| !label.is_empty() && label.len() <= 63)
        );
        let _ = name.to_string();
    };
    for question in repr.questions() {
        check_name(&question.name);
        for record in repr.resolve(question.name) {
            assert!(matches!(
                record.data,
                DnsRecordData::A(_) | DnsRecordData::Aaaa(_)
            ));
        }
    }
    for record in repr
        .answers()
        .chain(repr.authority())
        .chain(repr.additional())
    {
        check_name(&record.name);
        if let DnsRecordData::Cname(target) = record.data {
            check_name(&target);
        }
    }
    let counts = repr.counts();
    assert_eq!(repr.questions().count(), usize::from(counts[0]));
    assert_eq!(repr.answers().count(), usize::from(counts[1]));
    assert_eq!(repr.authority().count(), usize::from(counts[2]));
    assert_eq!(repr.additional().count(), usize::from(counts[3]));

    // The first question, asked again as a query, comes back the same.
    let Some(question) = repr.question() else {
        return true;
    };
    let mut text = String::new();
    let Some(name) = dotted(&question.name, &mut text) else {
        return true;
    };
    let query = DnsQueryRepr {
        id: repr.id,
        recursion_desired: repr.recursion_desired,
        name,
        qtype: question.qtype,
    };
    let mut out = vec![0u8; query.buffer_len()];
    query
        .emit(&mut DnsPacket::new_unchecked(&mut out[..]))
        .expect("a parsed name re-emits");
    let again = DnsRepr::parse(&DnsPacket::new_checked(&out[..]).unwrap()).expect("query parses");
    assert_eq!(again.id, repr.id);
    assert_eq!(again.recursion_desired, repr.recursion_desired);
    assert_eq!(again.counts(), [1, 0, 0, 0]);
    let asked = again.question().unwrap();
    assert_eq!(asked.name, question.name);
    assert_eq!(asked.qtype, question.qtype);
    true
}

/// How far [`check_ipv6`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Reached {
    /// Nothing parsed.
    Nothing,
    /// The IPv6 header parsed, but the extension headers stopped the walk.
    Header,
    /// The walk reached an upper layer this property does not parse further
    /// (or a fragment).
    Upper,
    /// A UDP datagram parsed and round-tripped.
    Udp,
    /// An ICMPv6 message parsed with its checksum verified and
    /// round-tripped.
    Icmpv6,
    /// An ICMPv6 message parsed with its checksum ignored and
    /// round-tripped.
    Icmpv6Unverified,
}

/// Addresses for a message handed over without an IPv6 header.
const SRC: Ipv6Address = Ipv6Address([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 1]);
const DST: Ipv6Address = Ipv6Address::LINK_LOCAL_ALL_NODES;

/// Checks the IPv6 property on one input. An input starting with version
/// 6 is an IPv6 packet: its header, extension headers and ICMPv6 or UDP
/// payload are checked. Any other input is, after its first byte, an
/// ICMPv6 message between two fixed addresses, so the fuzzer reaches the
/// NDP and MLD parsers directly.
pub fn check_ipv6(data: &[u8]) -> Ipv6Reached {
    match data.first() {
        Some(byte) if byte >> 4 == 6 => check_ipv6_packet(data),
        Some(_) => check_icmpv6(&SRC, &DST, &data[1..]),
        None => Ipv6Reached::Nothing,
    }
}

fn check_ipv6_packet(data: &[u8]) -> Ipv6Reached {
    let Ok(packet) = Ipv6Packet::new_checked(data) else {
        return Ipv6Reached::Nothing;
    };
    let _ = packet.to_string();
    let Ok(header) = Ipv6Repr::parse(&packet) else {
        return Ipv6Reached::Nothing;
    };
    let _ = header.to_string();
    let mut out = [0u8; 40];
    header.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
    let again = Ipv6Packet::new_unchecked(&out[..]);
    assert_eq!(Ipv6Repr::parse_quoted(&out), Ok((header, &[][..])));
    assert_eq!(again.flow_label(), header.flow_label);

    let payload = packet.payload();
    check_ext_headers(header.next_header, payload);
    let upper = match ipv6ext::walk(header.next_header, payload) {
        Ok(upper) => upper,
        Err(err) => {
            let _ = err.to_string();
            let _ = err.icmp_report(header.dst_addr.is_multicast());
            return Ipv6Reached::Header;
        }
    };
    assert!(upper.offset <= payload.len());
    if upper.fragment.is_some() {
        return Ipv6Reached::Upper;
    }
    let rest = &payload[upper.offset..];
    match upper.protocol {
        IpProtocol::Icmpv6 => check_icmpv6(&header.src_addr, &header.dst_addr, rest),
        IpProtocol::Udp => check_udp(&header.src_addr, &header.dst_addr, rest),
        _ => Ipv6Reached::Upper,
    }
}

/// Each extension header on the chain that parses re-emits to itself.
fn check_ext_headers(first: IpProtocol, payload: &[u8]) {
    let mut protocol = first;
    let mut rest = payload;
    for _ in 0..MAX_EXT_HEADERS {
        let (next, len) = match protocol {
            IpProtocol::HopByHop | IpProtocol::Ipv6Opts => {
                let Ok(view) = Ipv6ExtHeader::new_checked(rest) else {
                    return;
                };
                let Ok(repr) = Ipv6OptionsRepr::parse(&view) else {
                    return;
                };
                for option in repr.options() {
                    let (_, option) = option.expect("parsed options iterate");
                    let _ = (option.action(), option.may_change());
                }
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
                    .expect("a parsed options header re-emits");
                let again = Ipv6ExtHeader::new_checked(&out[..]).unwrap();
                assert_eq!(Ipv6OptionsRepr::parse(&again), Ok(repr));
                (repr.next_header, view.header_len())
            }
            IpProtocol::Ipv6Route => {
                let Ok(view) = Ipv6ExtHeader::new_checked(rest) else {
                    return;
                };
                let Ok(repr) = Ipv6RoutingRepr::parse(&view) else {
                    return;
                };
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut Ipv6ExtHeader::new_unchecked(&mut out[..]))
                    .expect("a parsed routing header re-emits");
                let again = Ipv6ExtHeader::new_checked(&out[..]).unwrap();
                assert_eq!(Ipv6RoutingRepr::parse(&again), Ok(repr));
                (repr.next_header, view.header_len())
            }
            IpProtocol::Ipv6Frag => {
                let Ok(view) = Ipv6FragmentHeader::new_checked(rest) else {
                    return;
                };
                let Ok(repr) = Ipv6FragmentRepr::parse(&view) else {
                    return;
                };
                let mut out = [0u8; 8];
                repr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..]));
                let again = Ipv6FragmentHeader::new_checked(&out[..]).unwrap();
                assert_eq!(Ipv6FragmentRepr::parse(&again), Ok(repr));
                (repr.next_header, 8)
            }
            _ => return,
        };
        protocol = next;
        rest = &rest[len..];
    }
}

fn check_icmpv6(src: &Ipv6Address, dst: &Ipv6Address, message: &[u8]) -> Ipv6Reached {
    let Ok(packet) = Icmpv6Packet::new_checked(message) else {
        return Ipv6Reached::Nothing;
    };
    let _ = packet.to_string();
    let _ = (
        packet.target_addr(),
        packet.ndisc_options(),
        packet.query_num_sources(),
        packet.report_num_records(),
        packet.router_flags(),
    );
    let verify = ChecksumCapabilities::default();
    let (repr, reached) = match Icmpv6Repr::parse(src, dst, &packet, &verify) {
        Ok(repr) => (repr, Ipv6Reached::Icmpv6),
        Err(Error::BadChecksum) => {
            // Random bytes seldom carry a valid checksum: parse once more
            // with it ignored so the fuzzer reaches the message parsers.
            match Icmpv6Repr::parse(src, dst, &packet, &ChecksumCapabilities::ignored()) {
                Ok(repr) => (repr, Ipv6Reached::Icmpv6Unverified),
                Err(_) => return Ipv6Reached::Nothing,
            }
        }
        Err(_) => return Ipv6Reached::Nothing,
    };
    let _ = repr.to_string();
    inspect_icmpv6(&repr);
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(
        src,
        dst,
        &mut Icmpv6Packet::new_unchecked(&mut out[..]),
        &verify,
    );
    let again = Icmpv6Packet::new_checked(&out[..]).expect("re-emitted ICMPv6");
    assert!(again.verify_checksum(src, dst));
    assert_eq!(Icmpv6Repr::parse(src, dst, &again, &verify), Ok(repr));
    reached
}

/// Every accessor of a parsed message runs without panicking.
fn inspect_icmpv6(repr: &Icmpv6Repr) {
    match repr {
        Icmpv6Repr::DstUnreachable { header, data, .. }
        | Icmpv6Repr::PktTooBig { header, data, .. }
        | Icmpv6Repr::TimeExceeded { header, data, .. }
        | Icmpv6Repr::ParamProblem { header, data, .. } => {
            // What a socket does with an error: find the quoted upper layer.
            let _ = ipv6ext::walk(header.next_header, data);
        }
        Icmpv6Repr::Ndisc(ndisc) => {
            let options = ndisc.options();
            let _ = (
                options.source_lladdr(),
                options.target_lladdr(),
                options.mtu(),
                options.redirected_header(),
            );
            for prefix in options.prefixes() {
                let _ = prefix.prefix;
            }
            for rdnss in options.rdnss() {
                assert_eq!(rdnss.addresses().count(), rdnss.len());
            }
            assert_eq!(
                options.iter().map(|o| o.buffer_len()).sum::<usize>(),
                options.as_bytes().len()
            );
        }
        Icmpv6Repr::Mld(MldRepr::Report { records }) => {
            assert_eq!(records.iter().count(), records.len());
            for record in records.iter() {
                assert_eq!(record.sources.iter().count(), record.sources.len());
            }
        }
        _ => {}
    }
}

fn check_udp(src: &Ipv6Address, dst: &Ipv6Address, datagram: &[u8]) -> Ipv6Reached {
    let (src, dst) = (IpAddress::Ipv6(*src), IpAddress::Ipv6(*dst));
    let Ok(packet) = UdpPacket::new_checked(datagram) else {
        return Ipv6Reached::Upper;
    };
    let _ = packet.to_string();
    let repr = match UdpRepr::parse(&packet, &src, &dst, &ChecksumCapabilities::default()) {
        Ok(repr) => repr,
        Err(Error::BadChecksum) => {
            match UdpRepr::parse(&packet, &src, &dst, &ChecksumCapabilities::ignored()) {
                Ok(repr) => repr,
                Err(_) => return Ipv6Reached::Upper,
            }
        }
        Err(_) => return Ipv6Reached::Upper,
    };
    let mut out = vec![0u8; repr.buffer_len()];
    let verify = ChecksumCapabilities::default();
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut out[..]),
        &src,
        &dst,
        &verify,
    );
    let again = UdpPacket::new_checked(&out[..]).expect("re-emitted UDP");
    assert_eq!(UdpRepr::parse(&again, &src, &dst, &verify), Ok(repr));
    Ipv6Reached::Udp
}
